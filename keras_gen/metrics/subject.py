"""What a metric evaluates: a trained run from a checkpoint, or a SavedModel export."""

import dataclasses
import json
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import serving


@dataclasses.dataclass
class Options:
  """Everything a metric may use besides the subject."""
  held_out: data.Source       # The split evaluated against (test where there is one).
  train: data.Source | None   # The training split, for metrics that fit on it.
  num_samples: int
  seed: int
  # Images per streamed batch; evaluation sizes it to the images (`image_sets.stream_batch_size`).
  batch_size: int = 256
  extra: dict = dataclasses.field(default_factory=dict)  # Metric-specific settings.
  # load_split("train" | "test") -> data.Source of the same dataset, for baselines.
  load_split: Callable[[str], data.Source] | None = None
  # The data's own (H, W, C) when reals were box-filtered to a growing model's level.
  box_filtered_from: tuple | None = None


@dataclasses.dataclass(eq=False)
class Subject:
  """Samples / encodes / reconstructs in [-1, 1]; `run`: the RestoredRun, None for an export."""
  kind: str
  metadata: dict
  signatures: dict
  run: object = None

  def sample(self, num, seed, batch_size=256):
    """num samples: images [num, H, W, C] in [-1, 1] or points [num, 2]."""
    return np.concatenate(list(self.sample_batches(num, seed, batch_size)))

  def sample_batches(self, num, seed, batch_size=256):
    """The same num samples as `sample`, yielded batch_size (or fewer) at a time."""
    for start in range(0, num, batch_size):
      result = self.signatures["sample"](num=tf.constant(min(batch_size, num - start), tf.int32),
                                         seed=tf.constant(seed * 1_000_003 + start, tf.int64))
      yield from_output(result)

  def reconstruct(self, images):
    """images in [-1, 1] -> reconstructions in [-1, 1], batched."""
    reconstruct = self.signatures["reconstruct"]
    return np.concatenate([
        from_output(reconstruct(images=data.to_uint8(tf.constant(images[start:start + 256]))))
        for start in range(0, len(images), 256)])


def from_output(result):
  if "images" in result:
    return data.from_uint8(result["images"]).numpy()
  return result["samples"].numpy()


def from_model_dir(model_dir, step=None):
  """The subject of a run folder's newest checkpoint, or of the one at training step `step`."""
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  return from_run(restore.load_run(model_dir, step=step))


def from_run(run):
  """The subject of a restored run's (or a training run's) networks in memory."""
  signatures = serving.make_module(run.family, run.networks, run.config.hparams,
                                   tuple(run.config.element_shape), run.family_state).signatures()
  metadata = serving.metadata(run.config, run.step, run.config.element_shape, signatures)
  kind = serving.output_kind(run.family, run.config.element_shape)
  return Subject(kind, metadata, signatures, run)


def from_saved_model(path):
  """Loads an export (EXPORT_DIR/<version>/ or EXPORT_DIR, taking the newest version)."""
  if not os.path.isdir(path):
    raise config_lib.ConfigError(f"--saved_model={path} is not a folder.")
  if not os.path.exists(os.path.join(path, "saved_model.pb")):
    versions = sorted((int(name) for name in os.listdir(path) if name.isdigit()), reverse=True)
    if not versions:
      raise config_lib.ConfigError(f"--saved_model={path} holds neither saved_model.pb nor "
                                   "numbered versions.")
    path = os.path.join(path, str(versions[0]))
  metadata_path = os.path.join(path, "assets", serving.METADATA_FILE)
  if not os.path.exists(metadata_path):
    raise config_lib.ConfigError(f"--saved_model={path} has no assets/{serving.METADATA_FILE}; was "
                                 "it written by keras_gen?")
  with open(metadata_path) as f:
    metadata = json.load(f)
  loaded = tf.saved_model.load(path)
  kind = metadata["config"].get("kind") or ("autoencoder" if "encode" in loaded.signatures
                                            else "points" if metadata["element_shape"] == [2]
                                            else "generator")
  return Subject(kind, metadata, dict(loaded.signatures))

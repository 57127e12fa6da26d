"""One numpy interface (`LoadedModel`) to a trained model from a checkpoint or a pretrained model
(through the family's serving functions) or an export (through its signatures)."""

import dataclasses
import os
from typing import Callable

import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import serving
from keras_gen.families import base

BATCH_SIZE = 256  # Examples per call; well under serving.MAX_BATCH.


@dataclasses.dataclass
class LoadedModel:
  """Batched float32 numpy functions: generate z [N, latent_dim] -> images [N, H, W, C] in
  [-1, 1] or points [N, 2] (None without a prior, latent_dim then 0); encode images -> codes
  [N, code_dim] and decode back (None for generators)."""
  name: str
  step: int
  kind: str
  dataset: str
  data_dir: str | None
  resolution: int | None
  latent_dim: int = 0
  generate: Callable[[np.ndarray], np.ndarray] | None = None
  encode: Callable[[np.ndarray], np.ndarray] | None = None
  decode: Callable[[np.ndarray], np.ndarray] | None = None
  element_shape: tuple = ()

  def reconstruct(self, images):
    return self.decode(self.encode(images))

  def real_examples(self, split, data_dir=""):
    """A split of the run's dataset, a `data.Source`."""
    return data.load(self.dataset, split, data_dir or self.data_dir or None,
                     self.resolution, seed=0)


def _batched(function, to_input=tf.constant,
             from_output=lambda tensor: tf.cast(tensor, tf.float32).numpy()):
  def apply(values):
    values = np.asarray(values)
    outputs = [from_output(function(to_input(values[start:start + BATCH_SIZE])))
               for start in range(0, len(values), BATCH_SIZE)]
    return np.concatenate(outputs).astype(np.float32)
  return apply


def from_checkpoint(model_dir, checkpoint_path=None, step=None):
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  return from_run(restore.load_run(model_dir, checkpoint_path, step))


def from_pretrained(name_or_folder):
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  return from_run(pretrained.load_run(name_or_folder))


def from_run(run):
  element_shape = tuple(run.config.element_shape)
  functions = run.family.serving(run.networks, run.config.hparams, run.family_state)
  model = LoadedModel(name=run.config.model, step=run.step,
                      kind=serving.output_kind(run.family, element_shape),
                      dataset=run.config.dataset, data_dir=run.config.data_dir or None,
                      resolution=run.config.resolution or None, element_shape=element_shape)
  if functions.generate is not None:  # An autoencoder's is None without a prior.
    model.latent_dim, model.generate = functions.latent_dim, _batched(functions.generate)
  if isinstance(functions, base.AutoencoderServing):
    model.encode, model.decode = _batched(functions.encode), _batched(functions.decode)
  return model


def from_export(path):
  """EXPORT_DIR/<version>/, or EXPORT_DIR's newest version."""
  from keras_gen.metrics import subject as subject_lib  # pylint: disable=g-import-not-at-top
  subject = subject_lib.from_saved_model(path)
  signatures, metadata = subject.signatures, subject.metadata
  run_config = metadata.get("config", {})
  model = LoadedModel(name=metadata["model"], step=int(metadata["step"]), kind=subject.kind,
                      dataset=metadata["dataset"], data_dir=run_config.get("data_dir") or None,
                      resolution=run_config.get("resolution") or None,
                      element_shape=tuple(metadata["element_shape"]))
  # A generator's serving_default (and the VAE's) takes {"z"}; an autoencoder's, images.
  default = signatures["serving_default"]
  default_inputs = default.structured_input_signature[1]
  if "z" in default_inputs:
    model.latent_dim = int(default_inputs["z"].shape[-1])
    model.generate = _batched(
        lambda z: default(z=z), to_input=lambda z: tf.constant(z, tf.float32),
        from_output=subject_lib.from_output)
  if subject.kind == "autoencoder":
    encode, decode = signatures["encode"], signatures["decode"]
    model.encode = _batched(lambda images: encode(images=images)["code"],
                            to_input=lambda images: data.to_uint8(tf.constant(images)))
    model.decode = _batched(lambda code: decode(code=code),
                            to_input=lambda code: tf.constant(code, tf.float32),
                            from_output=subject_lib.from_output)
  return model


def load(model_dir="", saved_model="", pretrained="", step=None):
  """The model of exactly one of --model_dir (at --step), --saved_model and --pretrained."""
  config_lib.check_model_source(model_dir, saved_model, pretrained, step)
  if model_dir:
    return from_checkpoint(model_dir, step=step)
  return from_export(saved_model) if saved_model else from_pretrained(pretrained)


def checkpoint_paths(model_dir):
  """The run's complete checkpoints, oldest first, found from the files, not the state file."""
  from keras_gen.engine import checkpoints  # pylint: disable=g-import-not-at-top
  paths = checkpoints.complete_checkpoints(os.path.join(model_dir, "checkpoints"))
  if not paths:
    raise config_lib.ConfigError(f"--model_dir={model_dir} holds no checkpoint yet.")
  return paths[::-1]

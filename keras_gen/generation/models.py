"""One interface to a trained model, from a checkpoint, a SavedModel export or the pretrained zoo.

`LoadedModel` exposes what the pictures need, with float32 numpy arrays at the
boundary: images in [-1, 1] as [N, H, W, C], points as [N, 2], latents and
codes as [N, d]. A checkpoint (or a pretrained model) is used through the family's raw serving
functions (`family.serving(networks, hparams, family_state)`); an export through its
signatures (`serving_default` {"z"}, `encode`, `decode`, `reconstruct`), whose
uint8 images are converted back to [-1, 1].
"""

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
  """A generator, points generator or autoencoder, with batched numpy functions.

  Attributes:
    name: the model name (e.g. "dcgan"), used in file names.
    step: the training step of the weights.
    kind: "generator", "points" or "autoencoder" (`serving.output_kind`).
    dataset, data_dir, resolution: the run's data, for real images and reference points.
    latent_dim: size of z for `generate`; 0 when the model has no prior.
    generate: z float32 [N, latent_dim] -> images [N, H, W, C] in [-1, 1] or
      points [N, 2]; None for an autoencoder without a prior.
    encode: images [N, H, W, C] in [-1, 1] -> codes [N, code_dim]; None for generators.
    decode: codes [N, code_dim] -> images in [-1, 1]; None for generators.
    model_dir: the run folder, when loaded from a checkpoint.
    element_shape: the shape of one image [H, W, C] or point [2].
  """
  name: str
  step: int
  kind: str
  dataset: str
  data_dir: str | None
  resolution: int | None
  latent_dim: int
  generate: Callable[[np.ndarray], np.ndarray] | None
  encode: Callable[[np.ndarray], np.ndarray] | None = None
  decode: Callable[[np.ndarray], np.ndarray] | None = None
  model_dir: str | None = None
  element_shape: tuple = ()

  def reconstruct(self, images):
    """images [N, H, W, C] in [-1, 1] -> decode(encode(images)), same shape and range."""
    return self.decode(self.encode(images))

  def real_examples(self, split, data_dir=""):
    """A split of the run's dataset: `data.Source` (uint8 images or float32 points)."""
    return data.load(self.dataset, split, data_dir or self.data_dir or None,
                     self.resolution, seed=0)


def _batched(function, to_input=tf.constant, from_output=np.asarray):
  """Applies `function` in batches of BATCH_SIZE and concatenates the numpy results."""
  def apply(values):
    values = np.asarray(values)
    outputs = [from_output(function(to_input(values[start:start + BATCH_SIZE])))
               for start in range(0, len(values), BATCH_SIZE)]
    return np.concatenate(outputs).astype(np.float32)
  return apply


def _numpy(tensor):
  return tf.cast(tensor, tf.float32).numpy()


def from_checkpoint(model_dir, checkpoint_path=None, step=None):
  """The newest checkpoint of a run folder, or the given one, or the one at training step `step`."""
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  return from_run(restore.load_run(model_dir, checkpoint_path, step), model_dir)


def from_pretrained(name_or_folder):
  """A model of the pretrained zoo (`keras_gen.pretrained`), by name or folder."""
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  return from_run(pretrained.load_run(name_or_folder))


def from_run(run, model_dir=None):
  """The networks of a `restore.RestoredRun`, through the family's serving functions."""
  element_shape = tuple(run.config.element_shape)
  functions = run.family.serving(run.networks, run.config.hparams, run.family_state)
  fields = dict(name=run.config.model, step=run.step,
                kind=serving.output_kind(run.family, element_shape),
                dataset=run.config.dataset, data_dir=run.config.data_dir or None,
                resolution=run.config.resolution or None, model_dir=model_dir,
                element_shape=element_shape)
  if isinstance(functions, base.AutoencoderServing):
    generate = (_batched(functions.generate, from_output=_numpy)
                if functions.generate is not None else None)
    return LoadedModel(**fields, latent_dim=functions.latent_dim if generate else 0,
                       generate=generate,
                       encode=_batched(functions.encode, from_output=_numpy),
                       decode=_batched(functions.decode, from_output=_numpy))
  return LoadedModel(**fields, latent_dim=functions.latent_dim,
                     generate=_batched(functions.generate, from_output=_numpy))


def _images_from_uint8(result):
  return data.from_uint8(result["images"]).numpy()


def from_export(path):
  """An export folder: EXPORT_DIR/<version>/ or EXPORT_DIR (its newest version)."""
  from keras_gen.metrics import subject as subject_lib  # pylint: disable=g-import-not-at-top
  subject = subject_lib.from_saved_model(path)
  signatures, metadata = subject.signatures, subject.metadata
  run_config = metadata.get("config", {})
  fields = dict(name=metadata["model"], step=int(metadata["step"]), kind=subject.kind,
                dataset=metadata["dataset"], data_dir=run_config.get("data_dir") or None,
                resolution=run_config.get("resolution") or None,
                element_shape=tuple(metadata["element_shape"]))
  generate, latent_dim = None, 0
  # An autoencoder's serving_default reconstructs images; a generator's (and the
  # VAE's, which samples from a prior) maps {"z"} to outputs.
  default_inputs = signatures["serving_default"].structured_input_signature[1]
  if "z" in default_inputs:
    latent_dim = int(default_inputs["z"].shape[-1])
    output_key = "samples" if subject.kind == "points" else "images"
    signature = signatures["serving_default"]
    generate = _batched(
        lambda z: signature(z=z), to_input=lambda z: tf.constant(z, tf.float32),
        from_output=(_images_from_uint8 if output_key == "images"
                     else lambda result: result["samples"].numpy()))
  if subject.kind != "autoencoder":
    return LoadedModel(**fields, latent_dim=latent_dim, generate=generate)
  encode_signature, decode_signature = signatures["encode"], signatures["decode"]
  return LoadedModel(
      **fields, latent_dim=latent_dim, generate=generate,
      encode=_batched(lambda images: encode_signature(images=images)["code"],
                      to_input=lambda images: data.to_uint8(tf.constant(images)),
                      from_output=_numpy),
      decode=_batched(lambda code: decode_signature(code=code),
                      to_input=lambda code: tf.constant(code, tf.float32),
                      from_output=_images_from_uint8))


def load(model_dir="", saved_model="", pretrained="", step=None):
  """Exactly one of a run folder (--model_dir; its newest checkpoint, or the one at training
  step `step`), an export (--saved_model) and a pretrained model (--pretrained)."""
  config_lib.check_model_source(model_dir, saved_model, pretrained, step)
  if model_dir:
    return from_checkpoint(model_dir, step=step)
  return from_export(saved_model) if saved_model else from_pretrained(pretrained)


def checkpoint_paths(model_dir):
  """The complete checkpoints a run folder still holds, oldest first (the manager keeps the
  newest few); read from the files, as `restore` does, not from the `checkpoint` state file,
  which may be damaged."""
  from keras_gen.engine import checkpoints  # pylint: disable=g-import-not-at-top
  paths = checkpoints.complete_checkpoints(os.path.join(model_dir, "checkpoints"))
  if not paths:
    raise config_lib.ConfigError(f"--model_dir={model_dir} holds no checkpoint yet.")
  return paths[::-1]

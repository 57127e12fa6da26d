"""The Python API, for notebooks: `keras_gen.load(...)` and `keras_gen.fit(...)`.

    import keras_gen
    run_dir = keras_gen.fit("dcgan_fashion_mnist", model_dir="runs/dcgan", train_steps=300)
    model = keras_gen.load(run_dir)        # a run folder, an export or a pretrained name
    images = model.sample(16, seed=0)      # uint8 [16, 28, 28, 1]

Why `fit` and not `train`: docs/training.md, "Python API".
"""

import json
import os
import time

import numpy as np

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import machine
from keras_gen import storage
from keras_gen import tf_startup
from keras_gen.generation import latents  # numpy only, like layout: no TensorFlow.
from keras_gen.generation import layout

RUN_INFO = "run_info.json"
DTYPES = ("uint8", "float32")


def fit(recipe=None, *, model_dir, **settings):
  """Trains as `python -m keras_gen.train` does and returns model_dir (resumed if it exists).
  recipe: a zoo recipe name or path (None: the defaults); settings: train flags by name
  (`hparams`, `metric_options` as dicts or 'name=value,...'), over the recipe's. Raises
  ConfigError before anything is written, or NonFiniteError if training diverged."""
  run_training(config_lib.make_config(recipe, dict(settings, model_dir=model_dir)))
  return model_dir


def run_training(config):
  """Trains `config`, prints the machine and its load, appends an entry (steps, wall time,
  machine) to MODEL_DIR/run_info.json; returns the loop's result."""
  tf_startup.import_tensorflow()
  from keras_gen.engine import loop  # pylint: disable=g-import-not-at-top
  from keras_gen.metrics import evaluation  # pylint: disable=g-import-not-at-top
  other_load = machine.OtherLoad().start()
  started = time.time()
  result = loop.run(config, snapshot=evaluation.SnapshotMetrics())
  entry = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
           "wall_seconds": round(time.time() - started, 1),
           "start_step": result.start_step, "end_step": result.step,
           "interrupted": result.interrupted, "machine": machine.describe()}
  entry["machine"]["other_load_cores"] = other_load.stop()
  print(f"Ran {entry['wall_seconds']:.0f} s on {machine.summary(entry['machine'])}; "
        f"{machine.load_note(entry['machine']['other_load_cores'])}.", flush=True)
  if result.chief:
    path = os.path.join(config.model_dir, RUN_INFO)
    runs = []
    if os.path.exists(path):
      with open(path) as f:
        runs = json.load(f)["runs"]
    storage.write_atomically(path, json.dumps({"runs": runs + [entry]}, indent=2) + "\n")
  return result


def load(source, step=None):
  """A `Model` from a run folder (newest checkpoint, or the one at `step`), an export
  (EXPORT_DIR or EXPORT_DIR/<version>) or a pretrained name or folder; else ConfigError."""
  tf_startup.import_tensorflow()
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  from keras_gen.generation import models  # pylint: disable=g-import-not-at-top
  source = os.fspath(source)
  is_pretrained_folder = os.path.isfile(os.path.join(source, pretrained.MANIFEST))
  if os.path.isfile(os.path.join(source, "config.json")) and not is_pretrained_folder:
    return Model(models.from_checkpoint(source, step=step))
  if step is not None:
    raise config_lib.ConfigError(f"step={step} picks a checkpoint of a run folder; {source!r} is "
                                 "not one (no config.json).")
  if os.path.isdir(source) and not is_pretrained_folder:
    return Model(models.from_export(source))
  if is_pretrained_folder or source in pretrained.names():
    return Model(models.from_pretrained(source))
  raise config_lib.ConfigError(
      f"{source!r} is neither a folder (a run, an export or a pretrained model) nor the name "
      f"of a pretrained model; pretrained models: {', '.join(pretrained.names()) or 'none'}.")


class Model:
  """A trained model, numpy in and out: images uint8 [N, H, W, C] (or floats in [-1, 1]) in,
  uint8 out (float32 in [-1, 1] with dtype="float32"); a 2-D toy generator gives float32
  [N, 2]. kind: "generator", "points" or "autoencoder"; latent_dim 0 without a prior."""

  def __init__(self, loaded):
    self._loaded = loaded  # A generation.models.LoadedModel.
    self.name, self.kind, self.step = loaded.name, loaded.kind, loaded.step
    self.dataset, self.latent_dim = loaded.dataset, loaded.latent_dim
    self.element_shape = tuple(loaded.element_shape)

  def __repr__(self):
    return (f"Model({self.name!r}, kind={self.kind!r}, step={self.step}, "
            f"dataset={self.dataset!r}, element_shape={self.element_shape})")

  def sample(self, n, seed=0, dtype="uint8"):
    """n samples of z ~ N(0, I) at `seed`: generate --mode=grid's cells, row by row."""
    self._require("generate")
    return self.generate(latents.gaussian(n, self.latent_dim, seed), dtype)

  def generate(self, z, dtype="uint8"):
    """Images (or points) for latents z, float [N, latent_dim]."""
    self._require("generate")
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != self.latent_dim:
      raise config_lib.ConfigError(f"z has shape {z.shape}; {self.name} takes "
                                   f"[N, {self.latent_dim}].")
    return self._output(self._loaded.generate(z), dtype)

  def encode(self, images):
    """Codes, float32 [N, code_dim], of images [N, H, W, C] (uint8, or floats in [-1, 1])."""
    self._require("encode")
    return self._loaded.encode(self._images(images))

  def decode(self, code, dtype="uint8"):
    """Images of codes, float [N, code_dim]."""
    self._require("decode")
    return self._output(self._loaded.decode(np.asarray(code, np.float32)), dtype)

  def reconstruct(self, images, dtype="uint8"):
    """decode(encode(images)), for images [N, H, W, C] (uint8, or floats in [-1, 1])."""
    self._require("encode")
    return self._output(self._loaded.reconstruct(self._images(images)), dtype)

  def _require(self, function):
    if getattr(self._loaded, function) is None:
      what = ("an autoencoder without a prior: use encode, decode and reconstruct"
              if self.kind == "autoencoder" else f"a {self.kind} model without an encoder")
      raise config_lib.ConfigError(f"{function}() is not available: {self.name!r} is {what}.")

  def _images(self, images):
    images = np.asarray(images)
    if images.shape[1:] != self.element_shape:
      raise config_lib.ConfigError(f"The images have shape {images.shape}; {self.name} takes "
                                   f"[N, {', '.join(map(str, self.element_shape))}].")
    if images.dtype == np.uint8:
      return data.from_uint8(images).numpy()
    if not np.issubdtype(images.dtype, np.floating):
      raise config_lib.ConfigError(f"The images are {images.dtype}; give uint8 in [0, 255] or "
                                   "floats in [-1, 1].")
    return images.astype(np.float32)

  def _output(self, values, dtype):
    if dtype not in DTYPES:
      raise config_lib.ConfigError(f"dtype={dtype!r} is not one of {', '.join(DTYPES)}.")
    if self.kind == "points" or dtype == "float32":
      return values.astype(np.float32)
    return layout.to_uint8(values)

"""SavedModel export in the layout TF Serving reads, EXPORT_DIR/<version>/; the signatures
and the requests they refuse: docs/serving.md."""

import contextlib
import json
import os
import secrets
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from keras_gen import data
from keras_gen import storage
from keras_gen.families import base

MAX_BATCH = 1024
METADATA_FILE = "keras_gen.json"
_NONFINITE_OUTPUT = "The model produced NaN or infinite values for this request"


def _check_batch(count):
  tf.debugging.assert_less_equal(
      tf.cast(count, tf.int64), tf.constant(MAX_BATCH, tf.int64),
      message=f"A request may ask for at most {MAX_BATCH} examples")
  tf.debugging.assert_positive(tf.cast(count, tf.int64),
                               message="A request must ask for at least one example")


def _check_finite(tensor, message):
  finite = tf.reduce_all(tf.math.is_finite(tensor))
  with tf.control_dependencies([tf.debugging.Assert(finite, [message])]):
    return tf.identity(tensor)


def _check_request(tensor, name, element_shape):
  # TF Serving does not enforce the signature's static shape.
  _check_batch(tf.shape(tensor)[0])
  tf.debugging.assert_equal(
      tf.shape(tensor)[1:], tf.constant(list(element_shape), tf.int32),
      message=f"`{name}` must have shape [N, {', '.join(str(d) for d in element_shape)}]")


def _prior_sample_function(functions, output):
  @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num"),
                                tf.TensorSpec([], tf.int64, name="seed")])
  def sample(num, seed):
    _check_batch(num)
    with tf.control_dependencies([tf.debugging.assert_non_negative(num)]):
      z = tf.random.stateless_normal(tf.stack([num, functions.latent_dim]),
                                     seed=tf.stack([seed, tf.constant(0, tf.int64)]))
    return output(functions.generate(z))
  return sample


def _images_output(images):
  images = _check_finite(tf.cast(images, tf.float32), _NONFINITE_OUTPUT)
  return {"images": data.to_uint8(images)}


def _points_output(points):
  return {"samples": _check_finite(tf.cast(points, tf.float32), _NONFINITE_OUTPUT)}


def _generate_function(functions, output):
  @tf.function(input_signature=[
      tf.TensorSpec([None, functions.latent_dim], tf.float32, name="z")])
  def generate(z):
    _check_request(z, "z", [functions.latent_dim])
    return output(functions.generate(_check_finite(z, "`z` must hold finite numbers")))
  return generate


class GeneratorModule(tf.Module):

  def __init__(self, networks, functions, kind):
    super().__init__()
    self.networks = networks
    output = _points_output if kind == "points" else _images_output
    self.serving_default = _generate_function(functions, output)
    self.sample = _prior_sample_function(functions, output)

  def signatures(self):
    return {"serving_default": self.serving_default, "sample": self.sample}


class AutoencoderModule(tf.Module):

  def __init__(self, networks, functions, image_shape):
    super().__init__()
    self.networks = networks
    images_spec = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")
    code_spec = tf.TensorSpec([None, *functions.code_shape], tf.float32, name="code")

    @tf.function(input_signature=[images_spec])
    def encode(images):
      _check_request(images, "images", image_shape)
      return {"code": tf.cast(functions.encode(data.from_uint8(images)), tf.float32)}

    @tf.function(input_signature=[code_spec])
    def decode(code):
      _check_request(code, "code", functions.code_shape)
      code = _check_finite(code, "`code` must hold finite numbers")
      return _images_output(functions.decode(code))

    @tf.function(input_signature=[images_spec])
    def reconstruct(images):
      _check_request(images, "images", image_shape)
      return _images_output(functions.decode(functions.encode(data.from_uint8(images))))

    self.encode, self.decode, self.reconstruct = encode, decode, reconstruct
    self.generate = self.sample = None
    if functions.generate is not None:
      self.generate = _generate_function(functions, _images_output)
      self.sample = _prior_sample_function(functions, _images_output)

  def signatures(self):
    signatures = {"serving_default": self.reconstruct, "encode": self.encode,
                  "decode": self.decode, "reconstruct": self.reconstruct}
    if self.generate is not None:
      signatures.update(serving_default=self.generate, sample=self.sample)
    return signatures


def output_kind(family, element_shape):
  """The family's KIND, except that a generator trained on 2-D points serves "points"."""
  return "points" if family.KIND == "generator" and len(element_shape) == 1 else family.KIND


def make_module(family, networks, hparams, element_shape, family_state=None):
  functions = family.serving(networks, hparams, family_state)
  if isinstance(functions, base.AutoencoderServing):
    module = AutoencoderModule(networks, functions, element_shape)
  else:
    module = GeneratorModule(networks, functions, output_kind(family, element_shape))
  if family_state is not None:
    # Tracked, so that the variables the serving functions read (ProGAN's alpha) are saved.
    setattr(module, family_state.name, family_state)
  return module


def metadata(config, step, element_shape, signatures):
  return {
      "model": config.model,
      "dataset": config.dataset,
      "element_shape": list(element_shape),
      "resolution": int(element_shape[0]) if len(element_shape) == 3 else None,
      "latent_dim": config.hparams.get("latent_dim", config.hparams.get("code_size")),
      "step": int(step),
      "signatures": sorted(signatures),
      "max_batch": MAX_BATCH,
      "value_range": "uint8 images in [0, 255]; networks see x / 127.5 - 1",
      "config": json.loads(config.to_json()),
  }


def nonfinite_variables(variables):
  """Paths of the float variables holding a NaN or an infinity."""
  return [getattr(v, "path", v.name) for v in variables
          if tf.as_dtype(v.dtype).is_floating and not np.isfinite(v.numpy()).all()]


def export(family, networks, config, step, export_dir, family_state=None):
  """Writes EXPORT_DIR/<step>/ atomically and returns its path; StorageError, leaving nothing,
  for non-finite weights or a full disk."""
  nonfinite = nonfinite_variables([v for network in networks.values() for v in network.variables])
  if nonfinite:
    raise storage.StorageError(f"The checkpoint of step {step} holds NaN or infinite weights "
                                  f"(in {storage.name_some(nonfinite)}); refusing to export it.")
  element_shape = tuple(config.element_shape)
  module = make_module(family, networks, config.hparams, element_shape, family_state)
  signatures = module.signatures()
  final_path = os.path.join(export_dir, str(int(step)))
  try:
    with published_folder(final_path) as partial_path, tempfile.TemporaryDirectory() as scratch:
      metadata_path = os.path.join(scratch, METADATA_FILE)
      with open(metadata_path, "w") as f:
        json.dump(metadata(config, step, element_shape, signatures), f, indent=2)
      module.metadata = tf.saved_model.Asset(metadata_path)
      tf.saved_model.save(module, partial_path, signatures=signatures)
  except (OSError, tf.errors.OpError) as error:  # A folder that cannot be made, a full disk.
    if not isinstance(error, OSError) and not storage.is_disk_full(error):
      raise
    reason = "No space left on device" if storage.is_disk_full(error) else error.strerror
    raise storage.StorageError(
        f"Cannot write the export {final_path} ({reason}); nothing was left there: fix that "
        f"and export again (`python -m keras_gen.export`).") from error
  return final_path


def remove_partial_exports(export_dir):
  if os.path.isdir(export_dir):
    for name in os.listdir(export_dir):
      if name.startswith(".") and ".partial-" in name:
        shutil.rmtree(os.path.join(export_dir, name), ignore_errors=True)


@contextlib.contextmanager
def published_folder(final_path):
  """Yields a temporary folder beside `final_path` that replaces it if the block succeeds."""
  parent, name = os.path.split(final_path)
  os.makedirs(parent, exist_ok=True)
  # Not mkdtemp, whose 0700 a serving process of another user could not read.
  while True:
    partial_path = os.path.join(parent, f".{name}.partial-{secrets.token_hex(4)}")
    with contextlib.suppress(FileExistsError):
      os.mkdir(partial_path)
      break
  try:
    yield partial_path
    if os.path.exists(final_path):
      shutil.rmtree(final_path)
    os.replace(partial_path, final_path)
  finally:
    shutil.rmtree(partial_path, ignore_errors=True)

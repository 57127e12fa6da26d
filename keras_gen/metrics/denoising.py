"""How well a denoising autoencoder undoes its corruption on held-out images."""

import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen.families import denoising_autoencoder


def denoising_error(subject, options):
  """MSE (on [0, 1]) of reconstructions of corrupted held-out images, and of the corrupted input."""
  hparams = {**denoising_autoencoder.DEFAULT_HPARAMS,
             **subject.metadata.get("config", {}).get("hparams", {})}
  for name in ("corruption", "gaussian_stddev", "masking_fraction", "salt_and_pepper_fraction"):
    if name in options.extra:
      hparams[name] = options.extra[name] if name == "corruption" else float(options.extra[name])
  try:
    denoising_autoencoder.validate_hparams(hparams)
  except ValueError as e:
    raise config_lib.ConfigError(f"--metric_options: {e}") from e
  images = data.from_uint8(options.held_out.examples[:options.num_samples])
  seeds = [tf.constant([options.seed, salt], tf.int64) for salt in (1, 2, 3)]
  corrupted = denoising_autoencoder.corrupt(
      images, hparams, tf.random.stateless_normal(images.shape, seeds[0]),
      *(tf.random.stateless_uniform(images.shape, seed) for seed in seeds[1:]))
  corrupted = data.from_uint8(data.to_uint8(corrupted)).numpy()
  images = images.numpy()

  def mse(x):
    return float(np.square((x - images) / 2.0).mean())

  level_name = {"gaussian": "gaussian_stddev", "masking": "masking_fraction",
                "salt_and_pepper": "salt_and_pepper_fraction"}[hparams["corruption"]]
  return {"mse": mse(subject.reconstruct(corrupted)), "noisy_mse": mse(corrupted),
          "corruption": f"{hparams['corruption']} {level_name}={hparams[level_name]}",
          "num_images": int(len(images))}

"""The denoising autoencoder: L(x, g(f(x~))) for a corrupted x~ (Vincent et al. 2008;
Goodfellow et al. 2016, sec. 14.2.2); noisy_mse is the corrupted input's own error.
"""

import tensorflow as tf

from keras_gen.families import autoencoder
from keras_gen.families import base
from keras_gen.families import salts

KIND = "autoencoder"
CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper")

DEFAULT_HPARAMS = dict(autoencoder.DEFAULT_HPARAMS)
DEFAULT_HPARAMS.update({
    "corruption": "gaussian",          # "gaussian", "masking" or "salt_and_pepper".
    "gaussian_stddev": 0.2,            # sigma on the [0, 1] scale.
    "masking_fraction": 0.3,           # Probability a pixel is zeroed (black).
    "salt_and_pepper_fraction": 0.2,   # Probability a pixel turns black or white.
})


def validate_hparams(hparams):
  autoencoder.validate_hparams(hparams)
  base.check_choice(hparams, "corruption", CORRUPTIONS)
  base.check_values(hparams, ("gaussian_stddev",), lambda value: value < 0, ">= 0")
  base.check_values(hparams, ("masking_fraction", "salt_and_pepper_fraction"),
                    lambda value: not 0.0 <= value <= 1.0, "in [0, 1]")


def corrupt(images, hparams, normal_noise, uniform_noise, coin_noise):
  """C(x~|x) of images [N, H, W, C] in [-1, 1], same shape and range, from the caller's
  normal_noise ~ N(0, 1) and uniform_noise, coin_noise ~ U[0, 1) of the images' shape."""
  corruption = hparams["corruption"]
  if corruption == "gaussian":
    return tf.clip_by_value(images + 2.0 * hparams["gaussian_stddev"] * normal_noise, -1.0, 1.0)
  if corruption == "masking":
    return tf.where(uniform_noise < hparams["masking_fraction"], -1.0, images)
  salt_or_pepper = tf.where(coin_noise < 0.5, -1.0, 1.0)
  return tf.where(uniform_noise < hparams["salt_and_pepper_fraction"], salt_or_pepper, images)


def corrupt_with_context(images, context, hparams):
  return corrupt(images, hparams, context.normal(images.shape, salt=salts.DENOISING_NORMAL),
                 context.uniform(images.shape, salt=salts.DENOISING_UNIFORM),
                 context.uniform(images.shape, salt=salts.DENOISING_COIN))


build = autoencoder.build
optimizers = autoencoder.optimizers


def train_step(networks, optimizers, batch, context, hparams):
  corrupted = corrupt_with_context(batch["images"], context, hparams)
  results = autoencoder.train_step(networks, optimizers, batch, context, hparams,
                                   encoder_inputs=corrupted)
  return {**results,
          "noisy_mse": context.average(autoencoder.pixel_error(batch["images"], corrupted))}


def summaries(networks, batch, context, hparams):
  """(clean, corrupted, denoised) triples, and reconstructions of clean inputs."""
  images = batch["images"]
  corrupted = corrupt_with_context(images, context, hparams)[:12]
  denoised = autoencoder.to_images(networks["decoder"](networks["encoder"](corrupted)), hparams)
  return {"denoising": autoencoder.side_by_side(images[:12], corrupted, denoised),
          **autoencoder.summaries(networks, batch, context, hparams)}


serving = autoencoder.serving

"""The denoising autoencoder: reconstruct the clean x from a corrupted copy x~ ~ C(x~|x).

Vincent, Larochelle, Bengio & Manzagol (2008), "Extracting and Composing Robust
Features with Denoising Autoencoders"; Goodfellow et al. (2016), sec. 14.2.2.
The loss is L(x, g(f(x~))): the target is the clean input, so the autoencoder
must learn the structure of the data to undo the corruption. Corruptions
(images in [-1, 1]; each level is its own hyperparameter):

  "gaussian": x~ = clip(x + sigma * 2 * eps), eps ~ N(0, 1); sigma = gaussian_stddev
      on the [0, 1] pixel scale.
  "masking": each pixel set to black (-1) with probability masking_fraction
      (Vincent et al.'s masking noise).
  "salt_and_pepper": each pixel, with probability salt_and_pepper_fraction, set to
      black or white with equal probability.

The networks and the reconstruction loss are those of `autoencoder`. Each step
also reports `noisy_mse`, the corrupted input's own error: the baseline the
reconstruction must beat. The `denoising` metric measures both on held-out data.
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
  if hparams["gaussian_stddev"] < 0:
    raise ValueError(f"gaussian_stddev must be >= 0, got {hparams['gaussian_stddev']}.")
  for name in ("masking_fraction", "salt_and_pepper_fraction"):
    if not 0.0 <= hparams[name] <= 1.0:
      raise ValueError(f"{name} must be in [0, 1], got {hparams[name]}.")


def corrupt(images, hparams, normal_noise, uniform_noise, coin_noise):
  """C(x~|x): images [N, H, W, C] in [-1, 1] -> corrupted images, same shape and range.

  The randomness comes in: `normal_noise` ~ N(0, 1), `uniform_noise` and
  `coin_noise` ~ U[0, 1), each of the images' shape, so the caller owns the
  random numbers (StepContext in training, a fixed seed in evaluation).
  """
  corruption = hparams["corruption"]
  if corruption == "gaussian":
    return tf.clip_by_value(images + 2.0 * hparams["gaussian_stddev"] * normal_noise,
                            -1.0, 1.0)
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
  images = batch["images"]
  corrupted = corrupt_with_context(images, context, hparams)
  variables = networks["encoder"].trainable_variables + networks["decoder"].trainable_variables
  with tf.GradientTape() as tape:
    outputs = networks["decoder"](networks["encoder"](corrupted, training=True), training=True)
    loss = context.average(autoencoder.reconstruction_loss(images, outputs, hparams))
  context.minimize(tape, loss, variables, optimizers["autoencoder"])
  reconstructions = autoencoder.to_images(outputs, hparams)
  return {"loss": loss, "mse": context.average(autoencoder.pixel_error(images, reconstructions)),
          "noisy_mse": context.average(autoencoder.pixel_error(images, corrupted))}


def summaries(networks, batch, context, hparams):
  """(clean, corrupted, denoised) triples, two to a row of 6, and plain reconstructions of clean inputs."""
  images = batch["images"]
  corrupted = corrupt_with_context(images, context, hparams)

  def reconstruct(x):
    return autoencoder.to_images(networks["decoder"](networks["encoder"](x)), hparams)

  return {"denoising": autoencoder.side_by_side(images[:12], corrupted[:12],
                                                reconstruct(corrupted[:12])),
          "reconstructions": autoencoder.side_by_side(images, reconstruct(images))}


serving = autoencoder.serving

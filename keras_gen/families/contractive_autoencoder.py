"""The contractive autoencoder: reconstruction + lambda ||J_f(x)||_F^2 with the exact Jacobian
of a sigmoid code (Rifai et al. 2011, eq. 5; Goodfellow et al. 2016, sec. 14.2.3).
"""

import functools

import tensorflow as tf

from keras_gen.families import autoencoder
from keras_gen.families import base

KIND = "autoencoder"
CODE_ACTIVATIONS = ("sigmoid", "linear")

DEFAULT_HPARAMS = {
    "code_size": 64,                # Dimension of h.
    "hidden_units": 512,            # MLP hidden layer width.
    "code_activation": "sigmoid",   # "sigmoid" (the paper) or "linear".
    "contraction_weight": 0.1,      # lambda.
    "reconstruction_loss": "mse",   # As in `autoencoder`: "mse" or "bernoulli".
    "learning_rate": 1e-3,          # Adam.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "code_activation", CODE_ACTIVATIONS)
  base.check_choice(hparams, "reconstruction_loss", autoencoder.RECONSTRUCTION_LOSSES)
  base.check_values(hparams, ("code_size", "hidden_units"), lambda value: value < 1, "positive")
  base.check_values(hparams, ("contraction_weight",), lambda value: value < 0, ">= 0")


def build(hparams, element_shape):
  return autoencoder.build(dict(hparams, architecture="mlp"), element_shape)


optimizers = autoencoder.optimizers


def code(encoder, images, hparams, training=False):
  """h = f(x) [N, code_size]."""
  h = tf.cast(encoder(images, training=training), tf.float32)
  return tf.sigmoid(h) if hparams["code_activation"] == "sigmoid" else h


def code_and_jacobian_penalty(encode, images):
  """(h [N, code_size], ||dh/dx||_F^2 [N]) for images [N, ...]; `encode` may use no batch
  statistics."""
  with tf.GradientTape() as tape:
    tape.watch(images)
    h = encode(images)
  jacobian = tape.batch_jacobian(h, images)  # [N, code_size, H, W, C].
  return h, tf.reduce_sum(tf.square(jacobian), axis=list(range(1, jacobian.shape.rank)))


def train_step(networks, optimizers, batch, context, hparams):
  images = batch["images"]
  with tf.GradientTape() as tape:
    h, contraction = code_and_jacobian_penalty(
        lambda x: code(networks["encoder"], x, hparams, training=True), images)
    outputs = networks["decoder"](h, training=True)
    reconstruction = autoencoder.reconstruction_loss(images, outputs, hparams)
    loss = context.average(reconstruction + hparams["contraction_weight"] * contraction)
  context.minimize(tape, loss, autoencoder.trainable(networks), optimizers["autoencoder"])
  pixel_error = autoencoder.pixel_error(images, autoencoder.to_images(outputs, hparams))
  return {"loss": loss, "mse": context.average(pixel_error),
          "jacobian_frobenius_squared": context.average(contraction)}


summaries = functools.partial(autoencoder.summaries, code=code)
serving = functools.partial(autoencoder.serving, code=code)

"""The sparse autoencoder: an overcomplete code with an L1 (ReLU code) or KL-to-rho (sigmoid
code) penalty (Goodfellow et al. 2016, sec. 14.2.1; Ng, "Sparse autoencoder", 2011).
"""

import functools

import tensorflow as tf

from keras_gen.families import autoencoder
from keras_gen.families import base

KIND = "autoencoder"
PENALTIES = ("l1", "kl")

DEFAULT_HPARAMS = {
    "code_size": 1024,             # Dimension of h; larger than the input (overcomplete).
    "hidden_units": 512,           # Encoder hidden layer and decoder hidden layer width.
    "sparsity_penalty": "l1",      # "l1" (ReLU code) or "kl" (sigmoid code).
    "sparsity_weight": 1e-3,       # lambda: weight of Omega(h) per example.
    "target_activation": 0.05,     # rho, for the KL penalty.
    "active_threshold": 0.1,       # h_j above this counts as active.
    "reconstruction_loss": "mse",  # As in `autoencoder`: "mse" or "bernoulli".
    "learning_rate": 1e-3,         # Adam.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "sparsity_penalty", PENALTIES)
  base.check_choice(hparams, "reconstruction_loss", autoencoder.RECONSTRUCTION_LOSSES)
  base.check_values(hparams, ("code_size", "hidden_units"), lambda value: value < 1, "positive")
  base.check_values(hparams, ("target_activation",), lambda value: not 0.0 < value < 1.0,
                    "in (0, 1)")
  base.check_values(hparams, ("sparsity_weight",), lambda value: value < 0, ">= 0")


def build(hparams, element_shape):
  """Encoder: images [N, H, W, C] -> pre-activation code [N, code_size]; MLP decoder."""
  element_shape = tuple(element_shape)
  encoder = autoencoder.MLPEncoder(hparams["code_size"], hparams["hidden_units"], name="encoder")
  decoder = autoencoder.MLPDecoder(element_shape, hparams["hidden_units"], name="decoder")
  decoder(encoder(tf.zeros([1, *element_shape])))
  return {"encoder": encoder, "decoder": decoder}


optimizers = autoencoder.optimizers


def code(encoder, images, hparams, training=False):
  """h [N, code_size]: ReLU (l1) in [0, inf) or sigmoid (kl) in (0, 1)."""
  h = tf.cast(encoder(images, training=training), tf.float32)
  return tf.nn.relu(h) if hparams["sparsity_penalty"] == "l1" else tf.sigmoid(h)


def l1_penalty(h):
  """sum_j |h_j| per example, [N]."""
  return tf.reduce_sum(tf.abs(h), axis=1)


def kl_sparsity_penalty(h, target_activation):
  """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)) of h (0, 1) [N, units], rho_hat its mean
  over this replica's batch: a batch property, as [N] copies whose average is the penalty."""
  rho = target_activation
  rho_hat = tf.clip_by_value(tf.reduce_mean(h, axis=0), 1e-6, 1.0 - 1e-6)
  kl = tf.reduce_sum(rho * tf.math.log(rho / rho_hat)
                     + (1.0 - rho) * tf.math.log((1.0 - rho) / (1.0 - rho_hat)))
  return tf.fill([tf.shape(h)[0]], kl)


def active_fraction(h, threshold):
  """Per example, the fraction of code units with h_j > threshold, [N] in [0, 1]."""
  return tf.reduce_mean(tf.cast(h > threshold, tf.float32), axis=1)


def train_step(networks, optimizers, batch, context, hparams):
  images = batch["images"]
  with tf.GradientTape() as tape:
    h = code(networks["encoder"], images, hparams, training=True)
    outputs = networks["decoder"](h, training=True)
    reconstruction = autoencoder.reconstruction_loss(images, outputs, hparams)
    penalty = (l1_penalty(h) if hparams["sparsity_penalty"] == "l1"
               else kl_sparsity_penalty(h, hparams["target_activation"]))
    loss = context.average(reconstruction + hparams["sparsity_weight"] * penalty)
  context.minimize(tape, loss, autoencoder.trainable(networks), optimizers["autoencoder"])
  pixel_error = autoencoder.pixel_error(images, autoencoder.to_images(outputs, hparams))
  return {"loss": loss, "mse": context.average(pixel_error),
          "sparsity_penalty": context.average(penalty),
          "active_fraction": context.average(active_fraction(h, hparams["active_threshold"]))}


summaries = functools.partial(autoencoder.summaries, code=code)
serving = functools.partial(autoencoder.serving, code=code)

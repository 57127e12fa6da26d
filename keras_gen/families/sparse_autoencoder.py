"""The sparse autoencoder: an overcomplete code kept from the identity by a sparsity penalty.

Goodfellow, Bengio & Courville (2016), sec. 14.2.1; Ng, "Sparse autoencoder"
(CS294A lecture notes, 2011). The code h = f(x) has more units than x has
pixels, so without a constraint the autoencoder could copy its input; the
penalty Omega(h) added to the reconstruction loss makes most units inactive on
any one input. Two penalties:

  "l1": Omega(h) = sum_j |h_j| on a ReLU code (exact zeros are inactive).
  "kl": Omega(h) = sum_j KL(rho || rho_hat_j) on a sigmoid code, where rho_hat_j
      is unit j's mean activation over the batch and rho the target activation
      (Ng's notes, sec. 3). The batch mean is this replica's.

A unit is counted active on an input when h_j > active_threshold; the fraction
of active units is reported every step and by the `sparsity` metric.
"""

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
  for name in ("code_size", "hidden_units"):
    if hparams[name] < 1:
      raise ValueError(f"{name} must be positive, got {hparams[name]}.")
  if not 0.0 < hparams["target_activation"] < 1.0:
    raise ValueError(
        f"target_activation must be in (0, 1), got {hparams['target_activation']}.")
  if hparams["sparsity_weight"] < 0:
    raise ValueError(f"sparsity_weight must be >= 0, got {hparams['sparsity_weight']}.")


def build(hparams, element_shape):
  """Encoder: images [N, H, W, C] -> pre-activation code [N, code_size]; MLP decoder."""
  element_shape = tuple(element_shape)
  encoder = autoencoder.MLPEncoder(hparams["code_size"], hparams["hidden_units"],
                                   name="encoder")
  decoder = autoencoder.MLPDecoder(element_shape, hparams["hidden_units"], name="decoder")
  decoder(encoder(tf.zeros([1, *element_shape])))
  return {"encoder": encoder, "decoder": decoder}


optimizers = autoencoder.optimizers


def code(encoder, images, hparams, training=False):
  """h [N, code_size]: ReLU (l1) in [0, inf) or sigmoid (kl) in (0, 1)."""
  pre_activation = tf.cast(encoder(images, training=training), tf.float32)
  if hparams["sparsity_penalty"] == "l1":
    return tf.nn.relu(pre_activation)
  return tf.sigmoid(pre_activation)


def l1_penalty(h):
  """sum_j |h_j| per example, [N]."""
  return tf.reduce_sum(tf.abs(h), axis=1)


def kl_sparsity_penalty(h, target_activation):
  """sum_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j)), rho_hat = mean of h over the batch.

  A property of the batch, not of one example: returned as [N] copies, so that
  averaging over the batch gives the penalty once. h in (0, 1), [N, units].
  """
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
  variables = networks["encoder"].trainable_variables + networks["decoder"].trainable_variables
  with tf.GradientTape() as tape:
    h = code(networks["encoder"], images, hparams, training=True)
    outputs = networks["decoder"](h, training=True)
    reconstruction = autoencoder.reconstruction_loss(images, outputs, hparams)
    penalty = (l1_penalty(h) if hparams["sparsity_penalty"] == "l1"
               else kl_sparsity_penalty(h, hparams["target_activation"]))
    loss = context.average(reconstruction + hparams["sparsity_weight"] * penalty)
  context.minimize(tape, loss, variables, optimizers["autoencoder"])
  pixel_error = autoencoder.pixel_error(images, autoencoder.to_images(outputs, hparams))
  return {"loss": loss, "mse": context.average(pixel_error),
          "sparsity_penalty": context.average(penalty),
          "active_fraction": context.average(active_fraction(h, hparams["active_threshold"]))}


def summaries(networks, batch, context, hparams):
  return autoencoder.summaries(networks, batch, context, hparams, code=code)


def serving(networks, hparams):
  return autoencoder.serving(networks, hparams, code=code)

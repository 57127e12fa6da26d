"""The variational autoencoder (Kingma & Welling 2014): -E_q[log p(x|z)] + beta KL(q(z|x) ||
N(0, I)), reparameterized (sec. 2.4), KL in closed form; beta > 1: Higgins et al. 2017; KL
warm-up: Bowman et al. 2016, Sonderby et al. 2016."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from keras_gen.families import autoencoder
from keras_gen.families import base
from keras_gen.families import salts
from keras_gen.families import vae_likelihoods as likelihoods

tfd = tfp.distributions

KIND = "autoencoder"
MIN_POSTERIOR_SCALE = 1e-4
MANIFOLD_SIZE = 15  # The 2-D latent manifold grid is MANIFOLD_SIZE x MANIFOLD_SIZE decodings.
INTERPOLATION_STEPS = 8

DEFAULT_HPARAMS = {
    "architecture": "mlp",             # "mlp" or "conv".
    "latent_dim": 32,                  # Dimension of z; 2 gives a plottable manifold.
    "hidden_units": 512,               # MLP hidden layer width.
    "filters": 32,                     # Conv: feature maps of the first layer.
    "likelihood": "bernoulli",         # "bernoulli", "gaussian" or "discretized_logistic".
    "binarization": "dynamic",         # Bernoulli data: "dynamic" or "threshold".
    "beta": 1.0,                       # Weight of the KL term.
    "kl_warmup_steps": 0,              # Steps of linear KL warm-up; 0 turns it off.
    "learning_rate": 1e-3,             # Adam.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "architecture", autoencoder.ARCHITECTURES)
  base.check_choice(hparams, "likelihood", likelihoods.LIKELIHOODS)
  base.check_choice(hparams, "binarization", likelihoods.BINARIZATIONS)
  base.check_values(hparams, ("latent_dim", "hidden_units", "filters"),
                    lambda value: value < 1, "positive")
  base.check_values(hparams, ("beta", "kl_warmup_steps"), lambda value: value < 0, ">= 0")


def build(hparams, element_shape):
  """Encoder: images -> [N, 2 * latent_dim] (mu, raw sigma); decoder: z -> [N, H, W, C * P]."""
  height, width, channels = tuple(element_shape)
  output_shape = (height, width, channels * likelihoods.PARAMETERS_PER_CHANNEL[
      hparams["likelihood"]])
  posterior_size = 2 * hparams["latent_dim"]
  if hparams["architecture"] == "mlp":
    encoder = autoencoder.MLPEncoder(posterior_size, hparams["hidden_units"], name="encoder")
    decoder = autoencoder.MLPDecoder(output_shape, hparams["hidden_units"], name="decoder")
  else:
    encoder = autoencoder.ConvEncoder(tuple(element_shape), posterior_size, hparams["filters"],
                                      name="encoder")
    decoder = autoencoder.ConvDecoder(output_shape, hparams["filters"], name="decoder")
  encoder(tf.zeros([1, *element_shape]))
  decoder(tf.zeros([1, hparams["latent_dim"]]))
  return {"encoder": encoder, "decoder": decoder}


def optimizers(hparams, networks):
  return {"vae": (keras.optimizers.Adam(hparams["learning_rate"]), autoencoder.trainable(networks))}


def posterior_parameters(encoder, images, training=False):
  """q(z|x) as (mu, sigma), each [N, latent_dim]; sigma > 0."""
  loc, raw_scale = tf.split(tf.cast(encoder(images, training=training), tf.float32), 2, axis=-1)
  return loc, tf.nn.softplus(raw_scale) + MIN_POSTERIOR_SCALE


def targets(images, hparams, uniform_noise=None):
  """What the likelihood models: binary images for Bernoulli, images in [-1, 1] otherwise."""
  if hparams["likelihood"] == "bernoulli":
    return likelihoods.binarize(images, hparams["binarization"], uniform_noise)
  return images


def kl_weight(step, hparams):
  """beta, ramped linearly from beta / kl_warmup_steps to beta over the warm-up."""
  if hparams["kl_warmup_steps"] <= 0:
    return tf.constant(float(hparams["beta"]))
  progress = tf.cast(step + 1, tf.float32) / float(hparams["kl_warmup_steps"])
  return float(hparams["beta"]) * tf.minimum(progress, 1.0)


def train_step(networks, optimizers, batch, context, hparams):
  images = batch["images"]
  x = targets(images, hparams, context.uniform(images.shape, salt=salts.VAE_BINARIZATION))
  beta = kl_weight(context.step, hparams)
  with tf.GradientTape() as tape:
    loc, scale = posterior_parameters(networks["encoder"], images, training=True)
    z = loc + scale * context.normal(loc.shape, salt=salts.VAE_EPSILON)
    decoder_outputs = networks["decoder"](z, training=True)
    reconstruction = -likelihoods.log_likelihood(x, decoder_outputs, hparams["likelihood"])
    kl = tfd.kl_divergence(tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale),
                           tfd.MultivariateNormalDiag(loc=tf.zeros([hparams["latent_dim"]])))
    loss = context.average(reconstruction + beta * kl)
  context.minimize(tape, loss, autoencoder.trainable(networks), optimizers["vae"])
  reconstruction = context.average(reconstruction)
  kl = context.average(kl)
  return {"loss": loss, "negative_elbo": reconstruction + kl, "reconstruction": reconstruction,
          # Averaged like a loss so that the sum over replicas is beta itself.
          "kl": kl, "beta": context.average(tf.fill([tf.shape(images)[0]], beta))}


def decode_mean(decoder, z, hparams):
  """z [N, latent_dim] -> the decoder mean, images [N, H, W, C] in [-1, 1]."""
  return likelihoods.mean_images(decoder(z, training=False), hparams["likelihood"])


def summaries(networks, batch, context, hparams):
  """Reconstructions beside inputs, prior samples, interpolations, and the 2-D manifold."""
  encoder, decoder = networks["encoder"], networks["decoder"]
  images = batch["images"]
  count = images.shape[0]
  loc, _ = posterior_parameters(encoder, images)
  result = {
      "reconstructions": autoencoder.side_by_side(images, decode_mean(decoder, loc, hparams)),
      "samples": decode_mean(
          decoder, context.normal([count, hparams["latent_dim"]], salt=salts.VAE_PRIOR_Z), hparams)}
  rows = min(INTERPOLATION_STEPS, count // 2)
  if rows:
    weights = tf.linspace(0.0, 1.0, INTERPOLATION_STEPS)[None, :, None]
    path = (1.0 - weights) * loc[:rows, None] + weights * loc[rows:2 * rows, None]
    result["interpolations"] = decode_mean(
        decoder, tf.reshape(path, [-1, hparams["latent_dim"]]), hparams)
  if hparams["latent_dim"] == 2:
    result["manifold"] = decode_mean(decoder, manifold_grid(MANIFOLD_SIZE), hparams)
  return result


def manifold_grid(size):
  """[size * size, 2] latents at the prior's quantiles 0.05..0.95 (Kingma & Welling, fig. 4)."""
  values = tfd.Normal(0.0, 1.0).quantile(tf.constant(np.linspace(0.05, 0.95, size), tf.float32))
  rows, columns = tf.meshgrid(values[::-1], values, indexing="ij")
  return tf.stack([tf.reshape(columns, [-1]), tf.reshape(rows, [-1])], axis=1)


def serving(networks, hparams):
  encoder, decoder = networks["encoder"], networks["decoder"]
  return base.AutoencoderServing(
      encode=lambda images: posterior_parameters(encoder, images)[0],
      decode=lambda z: decode_mean(decoder, z, hparams),
      code_shape=(hparams["latent_dim"],),
      generate=lambda z: decode_mean(decoder, z, hparams), latent_dim=hparams["latent_dim"])

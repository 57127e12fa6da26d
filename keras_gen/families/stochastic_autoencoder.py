"""The stochastic autoencoder: minimizes -log p_decoder(x|h), h ~ N(f(x), code_noise_stddev^2 I),
with no prior and no KL (Goodfellow et al. 2016, sec. 14.4); `encode` draws fresh noise.
"""

import tensorflow as tf
import tensorflow_probability as tfp

from keras_gen.families import autoencoder
from keras_gen.families import base
from keras_gen.families import salts

tfd = tfp.distributions

KIND = "autoencoder"
DECODER_DISTRIBUTIONS = ("gaussian", "bernoulli")

DEFAULT_HPARAMS = {
    "architecture": "conv",          # "mlp" or "conv".
    "code_size": 32,                 # Dimension of h.
    "hidden_units": 512,             # MLP hidden layer width.
    "filters": 32,                   # Conv: feature maps of the first layer.
    "code_noise_stddev": 0.5,        # Standard deviation of p_encoder(h|x) around f(x).
    "decoder_distribution": "gaussian",
    "decoder_stddev": 0.1,           # Gaussian decoder's standard deviation, [0, 1] scale.
    "learning_rate": 1e-3,           # Adam.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "architecture", autoencoder.ARCHITECTURES)
  base.check_choice(hparams, "decoder_distribution", DECODER_DISTRIBUTIONS)
  base.check_values(hparams, ("code_size", "hidden_units", "filters"),
                    lambda value: value < 1, "positive")
  base.check_values(hparams, ("code_noise_stddev",), lambda value: value < 0, ">= 0")
  base.check_values(hparams, ("decoder_stddev",), lambda value: value <= 0, "positive")


build = autoencoder.build
optimizers = autoencoder.optimizers


def decoder_distribution(decoder_outputs, hparams):
  """p_decoder(x|h) over pixels on the [0, 1] scale, event shape [H, W, C]."""
  decoder_outputs = tf.cast(decoder_outputs, tf.float32)
  if hparams["decoder_distribution"] == "bernoulli":
    # Grey levels as soft targets: log_prob accepts x in [0, 1].
    return tfd.Independent(tfd.Bernoulli(logits=decoder_outputs, dtype=tf.float32), 3)
  return tfd.Independent(tfd.Normal(decoder_outputs, hparams["decoder_stddev"]), 3)


def sample_code(encoder, images, noise, hparams, training=False):
  """h ~ p_encoder(h|x) = f(x) + code_noise_stddev * noise; noise ~ N(0, 1) [N, code_size]."""
  return (tf.cast(encoder(images, training=training), tf.float32)
          + hparams["code_noise_stddev"] * noise)


def mean_images(decoder_outputs, hparams):
  """The decoder mean as images in [-1, 1]."""
  return tf.clip_by_value(decoder_distribution(decoder_outputs, hparams).mean() * 2.0 - 1.0,
                          -1.0, 1.0)


def train_step(networks, optimizers, batch, context, hparams):
  images = batch["images"]
  noise = context.normal([images.shape[0], hparams["code_size"]], salt=salts.STOCHASTIC_CODE)
  with tf.GradientTape() as tape:
    h = sample_code(networks["encoder"], images, noise, hparams, training=True)
    outputs = networks["decoder"](h, training=True)
    loss = context.average(
        -decoder_distribution(outputs, hparams).log_prob((images + 1.0) / 2.0))
  context.minimize(tape, loss, autoencoder.trainable(networks), optimizers["autoencoder"])
  return {"loss": loss,
          "mse": context.average(autoencoder.pixel_error(images, mean_images(outputs, hparams)))}


def summaries(networks, batch, context, hparams):
  """Each input next to two reconstructions through independent draws of h, two to a row."""
  images = batch["images"]
  code_shape = [images.shape[0], hparams["code_size"]]

  def reconstruct(salt):
    h = sample_code(networks["encoder"], images, context.normal(code_shape, salt=salt), hparams)
    return mean_images(networks["decoder"](h), hparams)

  return {"reconstructions": autoencoder.side_by_side(
      images, reconstruct(salts.STOCHASTIC_CODE), reconstruct(salts.STOCHASTIC_SECOND_CODE))[:36]}


def serving(networks, hparams):
  encoder, decoder = networks["encoder"], networks["decoder"]

  def encode(images):
    # Serving has no step to seed from: a fresh draw of h per request.
    noise = tf.random.normal([tf.shape(images)[0], hparams["code_size"]])
    return sample_code(encoder, images, noise, hparams)

  return base.AutoencoderServing(
      encode=encode, decode=lambda h: mean_images(decoder(h, training=False), hparams),
      code_shape=(hparams["code_size"],))

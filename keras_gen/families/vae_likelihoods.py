"""Decoder likelihoods p(x|z) of the VAE, and the data each one models.

Kept apart from `vae.py` because the training step and the likelihood metric
(`keras_gen.metrics.likelihood`) both need them. Three likelihoods, all summed
over pixels (nats per image):

  "bernoulli": pixels binarized to {0, 1} (Kingma & Welling 2014, appendix
      C.1). The decoder outputs one logit per pixel.
  "gaussian": a diagonal Gaussian density over grey levels scaled to [0, 1]
      (appendix C.2). A density, not a probability: its NLL is not comparable
      with a discrete one. The decoder outputs a mean and a raw scale per pixel.
  "discretized_logistic": a logistic binned into the 256 grey levels of the
      uint8 image (Salimans et al. 2017, PixelCNN++, sec. 2.1; Kingma et al.
      2016, IAF), a proper probability mass function over the images. The
      decoder outputs a mean and a log-scale per pixel on the [-1, 1] scale.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "gaussian", "discretized_logistic")
BINARIZATIONS = ("dynamic", "threshold")
# Decoder output channels per image channel.
PARAMETERS_PER_CHANNEL = {"bernoulli": 1, "gaussian": 2, "discretized_logistic": 2}
MIN_SCALE = 1e-3
MIN_LOG_SCALE = -7.0
GREY_LEVELS = 256


def binarize(images, binarization, uniform_noise=None):
  """images in [-1, 1] -> {0., 1.}, the data a Bernoulli decoder models.

  "dynamic": a fresh Bernoulli draw with p = (x + 1) / 2, from `uniform_noise`
      in [0, 1) of the images' shape (Salakhutdinov & Murray 2008);
  "threshold": p > 0.5, the same binary image every time.
  """
  probabilities = (images + 1.0) / 2.0
  if binarization == "dynamic":
    return tf.cast(uniform_noise < probabilities, tf.float32)
  return tf.cast(probabilities > 0.5, tf.float32)


def describe_data(hparams):
  """One phrase stating what the likelihood's figures are measured on."""
  if hparams["likelihood"] == "bernoulli":
    if hparams["binarization"] == "dynamic":
      return "dynamically binarized (one Bernoulli draw per image, p = grey level)"
    return "binarized at threshold 0.5"
  if hparams["likelihood"] == "gaussian":
    return "grey levels scaled to [0, 1], continuous Gaussian density"
  return "256 grey levels, discretized logistic probability mass"


def log_likelihood(targets, decoder_outputs, likelihood):
  """log p(x|z) per example, in nats.

  Args:
    targets: [N, H, W, C]: {0, 1} binary images for "bernoulli", images in
      [-1, 1] otherwise.
    decoder_outputs: [N, H, W, C * PARAMETERS_PER_CHANNEL[likelihood]].
    likelihood: one of LIKELIHOODS.

  Returns:
    float32 [N], <= 0 for the two probability mass functions.
  """
  decoder_outputs = tf.cast(decoder_outputs, tf.float32)
  if likelihood == "bernoulli":
    log_probs = tfd.Bernoulli(logits=decoder_outputs, dtype=tf.float32).log_prob(targets)
  elif likelihood == "gaussian":
    loc, raw_scale = tf.split(decoder_outputs, 2, axis=-1)
    scale = tf.nn.softplus(raw_scale) + MIN_SCALE
    log_probs = tfd.Normal(loc, scale).log_prob((targets + 1.0) / 2.0)
  else:
    loc, log_scale = tf.split(decoder_outputs, 2, axis=-1)
    log_probs = discretized_logistic_log_prob(targets, loc, log_scale)
  return tf.reduce_sum(log_probs, axis=[1, 2, 3])


def discretized_logistic_log_prob(images, loc, log_scale):
  """log P(x) of a logistic binned into 256 levels; images, loc in [-1, 1].

  The bins have width 2 / 255 on the [-1, 1] scale; the two edge bins extend to
  -inf and +inf so the masses sum to one (PixelCNN++, eq. 2). Elementwise.
  """
  log_scale = tf.maximum(log_scale, MIN_LOG_SCALE)
  half_bin = 1.0 / (GREY_LEVELS - 1)
  centered = images - loc
  inverse_scale = tf.exp(-log_scale)
  plus_in = inverse_scale * (centered + half_bin)
  minus_in = inverse_scale * (centered - half_bin)
  log_cdf_plus = plus_in - tf.nn.softplus(plus_in)  # log sigmoid, for the x = -1 bin.
  log_one_minus_cdf_minus = -tf.nn.softplus(minus_in)  # For the x = 1 bin.
  cdf_delta = tf.sigmoid(plus_in) - tf.sigmoid(minus_in)
  # Where the bin mass underflows, the density at the centre times the bin width.
  middle_in = inverse_scale * centered
  log_pdf_middle = middle_in - log_scale - 2.0 * tf.nn.softplus(middle_in)
  log_mass = tf.where(cdf_delta > 1e-5, tf.math.log(tf.maximum(cdf_delta, 1e-12)),
                      log_pdf_middle + tf.math.log(2.0 * half_bin))
  return tf.where(images < -0.999, log_cdf_plus,
                  tf.where(images > 0.999, log_one_minus_cdf_minus, log_mass))


def mean_images(decoder_outputs, likelihood):
  """The decoder's mean (the logistic's location) as images in [-1, 1]."""
  decoder_outputs = tf.cast(decoder_outputs, tf.float32)
  if likelihood == "bernoulli":
    return tf.sigmoid(decoder_outputs) * 2.0 - 1.0
  loc, _ = tf.split(decoder_outputs, 2, axis=-1)
  if likelihood == "gaussian":
    return tf.clip_by_value(loc * 2.0 - 1.0, -1.0, 1.0)
  return tf.clip_by_value(loc, -1.0, 1.0)

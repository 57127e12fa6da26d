"""The VAE's decoder likelihoods p(x|z), in nats per image: "bernoulli" on binarized pixels
(Kingma & Welling 2014, app. C.1), "gaussian", a density on [0, 1] (app. C.2), and
"discretized_logistic" on 256 grey levels (Salimans et al. 2017, PixelCNN++, sec. 2.1).
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
  """images in [-1, 1] -> {0., 1.}: "dynamic" draws Bernoulli((x + 1) / 2) with uniform_noise
  (U[0, 1) of the images' shape; Salakhutdinov & Murray 2008), "threshold" takes p > 0.5."""
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
  """log p(x|z), float32 [N] nats (<= 0 but for "gaussian"), of targets [N, H, W, C] ({0, 1}
  for "bernoulli", else in [-1, 1]) under decoder_outputs [N, H, W, C * parameters]."""
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
  """Elementwise log P(x) of a logistic in 256 bins of width 2 / 255, images and loc in [-1, 1];
  the edge bins reach -inf and +inf (PixelCNN++, eq. 2)."""
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

"""Held-out log-likelihood of a VAE: the IWAE bound (Burda et al. 2016, eq. 8) and the ELBO."""

import math

import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen.families import vae
from keras_gen.families import vae_likelihoods as likelihoods

DEFAULT_IWAE_SAMPLES = 5000
DEFAULT_SAMPLES_PER_CHUNK = 100
DEFAULT_IMAGES_PER_BATCH = 50


def standard_normal_log_prob(z):
  """log N(z; 0, I) summed over the last axis."""
  return -0.5 * tf.reduce_sum(tf.square(z) + math.log(2.0 * math.pi), axis=-1)


def gaussian_log_prob(z, loc, scale):
  """log N(z; loc, diag(scale^2)) summed over the last axis; loc, scale broadcast to z."""
  return -0.5 * tf.reduce_sum(tf.square((z - loc) / scale) + 2.0 * tf.math.log(scale)
                              + math.log(2.0 * math.pi), axis=-1)


def gaussian_kl_to_standard_normal(loc, scale):
  """KL(N(loc, diag(scale^2)) || N(0, I)) in closed form (Kingma & Welling, appendix B)."""
  return 0.5 * tf.reduce_sum(tf.square(loc) + tf.square(scale) - 1.0
                             - 2.0 * tf.math.log(scale), axis=-1)


def importance_weighted_bounds(x, posterior_fn, log_likelihood_fn, num_samples, seed,
                               samples_per_chunk=DEFAULT_SAMPLES_PER_CHUNK):
  """{"iwae" (L_k, k = num_samples), "elbo", "kl", "reconstruction"}: float64 [N] in nats.

  posterior_fn(x) -> (loc, scale) [N, latent]; log_likelihood_fn(x, z [S * N, latent]) ->
  [S * N], row s * N + n for example n; S = samples_per_chunk."""
  loc, scale = posterior_fn(x)
  count, latent_dim = loc.shape[0], loc.shape[1]
  running_max = np.full([count], -np.inf)
  running_sum, log_likelihood_sum = np.zeros([count]), np.zeros([count])
  for chunk, start in enumerate(range(0, num_samples, samples_per_chunk)):
    samples = min(samples_per_chunk, num_samples - start)
    epsilon = tf.random.stateless_normal([samples, count, latent_dim],
                                         tf.constant([seed, chunk], tf.int64))
    z = loc[None] + scale[None] * epsilon
    log_likelihood = tf.reshape(
        log_likelihood_fn(x, tf.reshape(z, [samples * count, latent_dim])), [samples, count])
    # log w = log p(x|z) + log p(z) - log q(z|x), [samples, N].
    log_weights = (log_likelihood + standard_normal_log_prob(z)
                   - gaussian_log_prob(z, loc[None], scale[None])).numpy().astype(np.float64)
    new_max = np.maximum(running_max, log_weights.max(axis=0))
    running_sum = (running_sum * np.exp(running_max - new_max)
                   + np.exp(log_weights - new_max).sum(axis=0))
    running_max = new_max
    log_likelihood_sum += log_likelihood.numpy().astype(np.float64).sum(axis=0)
  kl = gaussian_kl_to_standard_normal(loc, scale).numpy().astype(np.float64)
  reconstruction = -log_likelihood_sum / num_samples
  return {"iwae": np.log(running_sum) + running_max - math.log(num_samples),
          "elbo": -reconstruction - kl, "kl": kl, "reconstruction": reconstruction}


def negative_log_likelihood(subject, options):
  """IWAE NLL (k = iwae_samples), negative ELBO, KL and reconstruction, in nats per image."""
  if subject.run is None:
    raise config_lib.ConfigError("Metric 'nll' needs the encoder and decoder themselves: pass "
                                 "--model_dir (a checkpoint), not --saved_model.")
  hparams = dict(subject.run.config.hparams)
  if "likelihood" not in hparams:
    raise config_lib.ConfigError(f"Metric 'nll' applies to VAEs, not to "
                                 f"{subject.metadata['model']!r}.")
  k = int(options.extra.get("iwae_samples", DEFAULT_IWAE_SAMPLES))
  samples_per_chunk = int(options.extra.get("samples_per_chunk", DEFAULT_SAMPLES_PER_CHUNK))
  images_per_batch = int(options.extra.get("images_per_batch", DEFAULT_IMAGES_PER_BATCH))
  hparams["binarization"] = options.extra.get("binarization", hparams["binarization"])
  if hparams["binarization"] not in likelihoods.BINARIZATIONS:
    raise config_lib.ConfigError(f"binarization={hparams['binarization']!r} is not one of "
                                 f"{', '.join(likelihoods.BINARIZATIONS)}.")
  if min(k, samples_per_chunk, images_per_batch) < 1:
    raise config_lib.ConfigError("iwae_samples, samples_per_chunk and images_per_batch must be "
                                 "positive.")
  networks = subject.run.networks

  @tf.function(reduce_retracing=True)
  def posterior_fn(images):
    return vae.posterior_parameters(networks["encoder"], images)

  @tf.function(reduce_retracing=True)
  def log_likelihood_fn(x, z):
    samples = tf.shape(z)[0] // tf.shape(x)[0]
    repeated = tf.tile(x, [samples, 1, 1, 1])  # Row s * N + n is example n.
    return likelihoods.log_likelihood(repeated, networks["decoder"](z, training=False),
                                      hparams["likelihood"])

  examples = options.held_out.examples[:options.num_samples]
  bounds = []
  for batch_index, start in enumerate(range(0, len(examples), images_per_batch)):
    images = data.from_uint8(examples[start:start + images_per_batch])
    noise = tf.random.stateless_uniform(images.shape, [options.seed, 1_000_000 + batch_index])
    targets = vae.targets(images, hparams, noise)
    bounds.append(importance_weighted_bounds(
        targets, lambda x, images=images: posterior_fn(images), log_likelihood_fn, k,
        seed=options.seed * 1_000_003 + batch_index, samples_per_chunk=samples_per_chunk))
  means = {name: float(np.concatenate([bound[name] for bound in bounds]).mean())
           for name in ("iwae", "elbo", "kl", "reconstruction")}
  return {"nll_nats": -means["iwae"], "elbo_nats": means["elbo"], "kl_nats": means["kl"],
          "reconstruction_nats": means["reconstruction"], "iwae_samples": k,
          "num_images": int(len(examples)), "data": likelihoods.describe_data(hparams)}

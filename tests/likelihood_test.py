"""Tests for keras_gen.metrics.likelihood: IWAE bounds checked against exact log p(x)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.metrics import evaluation
from keras_gen.metrics import likelihood

# A linear-Gaussian model: z ~ N(0, I_2), x = W z + b + sigma * noise, x in R^3.
W = np.array([[1.0, 0.5], [-0.3, 0.8], [0.2, -0.6]])
B = np.array([0.1, -0.2, 0.3])
SIGMA = 0.4
X = np.array([[0.5, 0.1, -0.4], [-1.0, 0.7, 0.9], [0.0, 0.0, 0.0]], np.float32)


def exact_log_likelihood(x):
  """log N(x; b, W W^T + sigma^2 I)."""
  covariance = W @ W.T + SIGMA ** 2 * np.eye(3)
  centred = x - B
  _, log_det = np.linalg.slogdet(covariance)
  quadratic = np.einsum("ni,ij,nj->n", centred, np.linalg.inv(covariance), centred)
  return -0.5 * (quadratic + log_det + 3 * math.log(2 * math.pi))


def exact_posterior(x):
  """p(z|x) = N(S W^T (x - b) / sigma^2, S), S = (I + W^T W / sigma^2)^-1 (diagonal part)."""
  covariance = np.linalg.inv(np.eye(2) + W.T @ W / SIGMA ** 2)
  loc = (x - B) @ W @ covariance / SIGMA ** 2
  return loc, covariance


def log_likelihood_fn(x, z):
  samples = tf.shape(z)[0] // tf.shape(x)[0]
  repeated = tf.tile(tf.cast(x, tf.float64), [samples, 1])
  mean = tf.cast(z, tf.float64) @ W.T + B
  log_probs = -0.5 * (tf.square((repeated - mean) / SIGMA) + math.log(2 * math.pi * SIGMA ** 2))
  return tf.cast(tf.reduce_sum(log_probs, axis=1), tf.float32)


def mismatched_posterior_fn(x):
  """A deliberately poor diagonal q(z|x): shifted and too wide, so the ELBO is loose."""
  loc, covariance = exact_posterior(x.numpy().astype(np.float64))
  scale = np.sqrt(np.diag(covariance))[None].repeat(len(loc), 0)
  return tf.constant(loc + 0.3, tf.float32), tf.constant(scale * 1.5, tf.float32)


def test_iwae_bounds_increase_with_k_and_approach_the_exact_log_likelihood():
  x = tf.constant(X)
  exact = exact_log_likelihood(X.astype(np.float64))
  bounds = {k: likelihood.importance_weighted_bounds(x, mismatched_posterior_fn,
                                                     log_likelihood_fn, k, seed=k)
            for k in (1, 10, 5000)}
  elbo = bounds[5000]["elbo"]
  assert np.all(elbo < exact - 0.05)
  # Single-draw L_1 is a noisy ELBO; L_10 and L_5000 lie between the ELBO and log p(x).
  assert np.all(elbo < bounds[10]["iwae"]) and np.all(bounds[10]["iwae"] < bounds[5000]["iwae"])
  # L_k bounds log p(x) in expectation; one estimate may exceed it by its noise.
  np.testing.assert_allclose(bounds[5000]["iwae"], exact, atol=0.03)


def test_elbo_is_reconstruction_plus_kl_and_the_kl_is_the_closed_form():
  x = tf.constant(X)
  bounds = likelihood.importance_weighted_bounds(x, mismatched_posterior_fn, log_likelihood_fn,
                                                 200, seed=0, samples_per_chunk=7)
  np.testing.assert_allclose(bounds["elbo"], -bounds["reconstruction"] - bounds["kl"])
  loc, scale = (t.numpy() for t in mismatched_posterior_fn(x))
  expected_kl = 0.5 * np.sum(loc ** 2 + scale ** 2 - 1 - 2 * np.log(scale), axis=1)
  np.testing.assert_allclose(bounds["kl"], expected_kl, rtol=1e-5)


def test_the_trained_vae_nll_metric_has_the_iwae_bound_tighter_than_the_elbo(tmp_path):
  rng = np.random.default_rng(0)
  patterns = rng.integers(0, 2, size=[4, 8, 8, 1]) * 255
  images = patterns[rng.integers(0, 4, size=32)].astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  loop.run(config.TrainConfig(
      model="vae", dataset=f"npz:{tmp_path / 'data.npz'}", model_dir=str(tmp_path / "run"),
      train_steps=80, batch_size=16, summary_every=80, log_every=40, checkpoint_every=80,
      hparams={"architecture": "mlp", "latent_dim": 2, "hidden_units": 32,
               "binarization": "threshold", "learning_rate": 3e-3}))
  results = evaluation.evaluate(model_dir=str(tmp_path / "run"), metric_names=["nll"],
                                num_samples=32, extra={"iwae_samples": "50",
                                                       "samples_per_chunk": "16"})
  nll = results["metrics"]["nll"]
  assert nll["nll_nats"] <= -nll["elbo_nats"]
  assert nll["reconstruction_nats"] + nll["kl_nats"] == pytest.approx(-nll["elbo_nats"],
                                                                       rel=1e-6)
  assert nll["iwae_samples"] == 50 and nll["num_images"] == 32
  assert nll["data"] == "binarized at threshold 0.5"

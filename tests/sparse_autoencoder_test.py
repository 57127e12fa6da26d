"""Tests for keras_gen.families.sparse_autoencoder: the penalties and the active fraction."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.engine import step_context
from keras_gen.families import sparse_autoencoder
from keras_gen.metrics import evaluation


def test_l1_penalty_is_the_sum_of_absolute_code_values_per_example():
  h = tf.constant([[0.0, 2.0, 0.5], [1.0, 0.0, 0.0]])
  np.testing.assert_allclose(sparse_autoencoder.l1_penalty(h), [2.5, 1.0])


def test_kl_sparsity_penalty_is_the_bernoulli_kl_from_the_target_to_the_mean_activation():
  h = tf.constant([[0.1, 0.5], [0.3, 0.5]])  # Mean activations 0.2 and 0.5.
  rho = 0.05

  def kl(rho_hat):
    return rho * math.log(rho / rho_hat) + (1 - rho) * math.log((1 - rho) / (1 - rho_hat))

  penalty = sparse_autoencoder.kl_sparsity_penalty(h, rho)
  np.testing.assert_allclose(penalty, [kl(0.2) + kl(0.5)] * 2, rtol=1e-5)


def train_active_fraction(images, sparsity_weight, steps=150):
  hparams = dict(sparse_autoencoder.DEFAULT_HPARAMS, code_size=80, hidden_units=16,
                 sparsity_weight=sparsity_weight, learning_rate=3e-3)
  tf.keras.utils.set_random_seed(0)
  networks = sparse_autoencoder.build(hparams, images.shape[1:])
  optimizer, variables = sparse_autoencoder.optimizers(hparams, networks)["autoencoder"]
  optimizer.build(variables)
  context = step_context.StepContext(step=tf.constant(0, tf.int64), seed=0,
                             global_batch_size=len(images))
  step = tf.function(lambda: sparse_autoencoder.train_step(
      networks, {"autoencoder": optimizer}, {"images": tf.constant(images)}, context, hparams))
  for _ in range(steps):
    losses = step()
  return float(losses["active_fraction"])


def test_a_stronger_l1_penalty_lowers_the_measured_fraction_of_active_units():
  images = np.random.default_rng(0).uniform(-1, 1, [32, 8, 8, 1]).astype(np.float32)
  unpenalized = train_active_fraction(images, 0.0)
  penalized = train_active_fraction(images, 0.05)
  assert penalized < 0.5 * unpenalized


def test_sparse_autoencoder_trains_end_to_end_and_the_sparsity_metric_reads_its_export(
    tmp_path):
  images = np.random.default_rng(0).integers(0, 256, [16, 8, 8, 1]).astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  result = loop.run(config.TrainConfig(
      model="sparse_autoencoder", dataset=f"npz:{tmp_path / 'data.npz'}",
      model_dir=str(tmp_path / "run"), train_steps=2, batch_size=8, summary_every=1,
      log_every=1, checkpoint_every=1,
      hparams={"code_size": 100, "hidden_units": 8, "sparsity_penalty": "kl"}))
  assert 0.0 <= result.losses["active_fraction"] <= 1.0
  results = evaluation.evaluate(saved_model=result.export_path, metric_names=["sparsity"],
                                num_samples=16)
  sparsity = results["metrics"]["sparsity"]
  assert sparsity["code_units"] == 100 and sparsity["num_images"] == 16
  assert sparsity["active_threshold"] == pytest.approx(0.1)
  assert 0.0 <= sparsity["active_fraction"] <= 1.0

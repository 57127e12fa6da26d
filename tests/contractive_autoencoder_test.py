"""Tests for keras_gen.families.contractive_autoencoder: the exact Jacobian penalty."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.families import contractive_autoencoder as cae


def test_jacobian_penalty_of_a_linear_encoder_is_the_squared_frobenius_norm_of_its_weights():
  weights = tf.constant(np.random.default_rng(0).normal(size=[12, 5]), tf.float32)
  images = tf.constant(np.random.default_rng(1).normal(size=[3, 2, 2, 3]), tf.float32)
  _, penalty = cae.code_and_jacobian_penalty(
      lambda x: tf.reshape(x, [3, 12]) @ weights + 1.0, images)
  np.testing.assert_allclose(penalty, [float(tf.reduce_sum(weights ** 2))] * 3, rtol=1e-5)


def test_jacobian_penalty_matches_central_finite_differences_on_a_tiny_sigmoid_network():
  rng = np.random.default_rng(2)
  w1 = rng.normal(size=[6, 4])
  w2 = rng.normal(size=[4, 3])

  def encode(x):
    x = tf.reshape(tf.cast(x, tf.float64), [-1, 6])
    return tf.sigmoid(tf.tanh(x @ w1) @ w2)

  images = rng.normal(size=[2, 1, 6, 1])
  _, penalty = cae.code_and_jacobian_penalty(encode, tf.constant(images))
  epsilon = 1e-5
  expected = np.zeros(2)
  for i in range(6):
    step = np.zeros_like(images)
    step[:, 0, i, 0] = epsilon
    derivative = (encode(images + step) - encode(images - step)).numpy() / (2 * epsilon)
    expected += np.sum(derivative ** 2, axis=1)
  np.testing.assert_allclose(penalty, expected, rtol=1e-6)


def test_contractive_autoencoder_trains_end_to_end_and_reports_its_penalty(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, [16, 8, 8, 1]).astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  result = loop.run(config.TrainConfig(
      model="contractive_autoencoder", dataset=f"npz:{tmp_path / 'data.npz'}",
      model_dir=str(tmp_path / "run"), train_steps=2, batch_size=8, summary_every=1,
      log_every=1, checkpoint_every=1, hparams={"code_size": 4, "hidden_units": 8}))
  losses = result.losses
  assert losses["jacobian_frobenius_squared"] > 0
  assert losses["loss"] > losses["jacobian_frobenius_squared"] * 0.1
  code = tf.saved_model.load(result.export_path).signatures["encode"](
      images=tf.constant(images))["code"].numpy()
  assert code.shape == (16, 4) and code.min() >= 0.0 and code.max() <= 1.0


def test_validate_hparams_names_an_unknown_code_activation():
  with pytest.raises(ValueError, match="code_activation='tanh' is not one of sigmoid"):
    cae.validate_hparams(dict(cae.DEFAULT_HPARAMS, code_activation="tanh"))

"""Tests for keras_gen.families.stochastic_autoencoder: its likelihood and its noisy export."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.families import stochastic_autoencoder as sae


def test_gaussian_decoder_negative_log_likelihood_is_the_hand_computed_one():
  hparams = dict(sae.DEFAULT_HPARAMS, decoder_stddev=0.1)
  outputs = tf.constant([[[[0.5], [0.2]]]])  # Means on the [0, 1] scale.
  pixels = tf.constant([[[[0.6], [0.2]]]])
  log_prob = sae.decoder_distribution(outputs, hparams).log_prob(pixels)
  expected = sum(-0.5 * math.log(2 * math.pi * 0.01) - (d / 0.1) ** 2 / 2 for d in (0.1, 0.0))
  assert float(log_prob[0]) == pytest.approx(expected, rel=1e-5)


def test_exported_reconstructions_differ_between_calls_and_a_zero_noise_model_is_repeatable(
    tmp_path):
  images = np.random.default_rng(0).integers(0, 256, [16, 8, 8, 1]).astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  exports = {}
  for noise in (1.0, 0.0):
    exports[noise] = loop.run(config.TrainConfig(
        model="stochastic_autoencoder", dataset=f"npz:{tmp_path / 'data.npz'}",
        model_dir=str(tmp_path / f"run{noise}"), train_steps=2, batch_size=8, summary_every=1,
        log_every=1, checkpoint_every=1,
        hparams={"architecture": "mlp", "code_size": 4, "hidden_units": 8,
                 "code_noise_stddev": noise})).export_path
  for noise, path in exports.items():
    encode = tf.saved_model.load(path).signatures["encode"]
    first = encode(images=tf.constant(images))["code"].numpy()
    second = encode(images=tf.constant(images))["code"].numpy()
    differs = np.abs(first - second).max() > 1e-3
    assert differs == (noise > 0)

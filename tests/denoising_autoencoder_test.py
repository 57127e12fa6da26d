"""Tests for keras_gen.families.denoising_autoencoder: corruptions and the denoising gain."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.families import denoising_autoencoder as dae
from keras_gen.metrics import evaluation

IMAGES = tf.constant([[[[0.0], [0.5]], [[-0.5], [1.0]]]])  # [1, 2, 2, 1]
UNIFORM = tf.constant([[[[0.1], [0.9]], [[0.25], [0.6]]]])
COIN = tf.constant([[[[0.2], [0.2]], [[0.7], [0.7]]]])
NORMAL = tf.constant([[[[1.0], [0.0]], [[-1.0], [10.0]]]])


def hparams(**overrides):
  return dict(dae.DEFAULT_HPARAMS, **overrides)


def test_masking_noise_blacks_out_exactly_the_pixels_drawn_below_the_fraction():
  corrupted = dae.corrupt(IMAGES, hparams(corruption="masking", masking_fraction=0.3),
                          NORMAL, UNIFORM, COIN)
  np.testing.assert_allclose(tf.reshape(corrupted, [-1]), [-1.0, 0.5, -1.0, 1.0])


def test_salt_and_pepper_turns_chosen_pixels_black_or_white_by_the_coin():
  corrupted = dae.corrupt(IMAGES, hparams(corruption="salt_and_pepper",
                                          salt_and_pepper_fraction=0.3),
                          NORMAL, UNIFORM, COIN)
  np.testing.assert_allclose(tf.reshape(corrupted, [-1]), [-1.0, 0.5, 1.0, 1.0])


def test_gaussian_corruption_adds_noise_of_the_given_stddev_on_the_unit_scale_and_clips():
  corrupted = dae.corrupt(IMAGES, hparams(corruption="gaussian", gaussian_stddev=0.1),
                          NORMAL, UNIFORM, COIN)
  np.testing.assert_allclose(tf.reshape(corrupted, [-1]), [0.2, 0.5, -0.7, 1.0], atol=1e-6)


def test_validate_hparams_names_an_unknown_corruption():
  with pytest.raises(ValueError, match="corruption='blur' is not one of gaussian"):
    dae.validate_hparams(hparams(corruption="blur"))


def test_trained_denoiser_beats_the_noisy_input_on_freshly_corrupted_images(tmp_path):
  rng = np.random.default_rng(0)
  patterns = rng.integers(0, 2, size=[4, 8, 8, 1]) * 255
  images = patterns[rng.integers(0, 4, size=64)].astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  loop.run(config.TrainConfig(
      model="denoising_autoencoder", dataset=f"npz:{tmp_path / 'data.npz'}",
      model_dir=str(tmp_path / "run"), train_steps=150, batch_size=16, summary_every=150,
      log_every=50, checkpoint_every=150,
      hparams={"architecture": "mlp", "code_size": 8, "hidden_units": 32,
               "corruption": "salt_and_pepper", "salt_and_pepper_fraction": 0.2,
               "learning_rate": 3e-3}))
  # The metric draws its corruption from --seed, not from any training step's draws.
  results = evaluation.evaluate(model_dir=str(tmp_path / "run"), metric_names=["denoising"],
                                num_samples=64, seed=123)
  denoising = results["metrics"]["denoising"]
  assert denoising["corruption"] == "salt_and_pepper salt_and_pepper_fraction=0.2"
  assert denoising["noisy_mse"] > 0.02
  assert denoising["mse"] < 0.5 * denoising["noisy_mse"]

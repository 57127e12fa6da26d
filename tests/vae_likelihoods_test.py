"""Tests for keras_gen.families.vae_likelihoods: the decoder likelihoods p(x|z)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.families import vae_likelihoods as likelihoods


def test_discretized_logistic_masses_over_the_256_grey_levels_sum_to_one():
  levels = tf.constant(np.arange(256) / 127.5 - 1.0, tf.float32)
  for loc, log_scale in ((0.0, -2.0), (0.9, -4.0), (-1.2, 0.5)):
    log_mass = likelihoods.discretized_logistic_log_prob(
        levels, tf.fill([256], loc), tf.fill([256], log_scale))
    assert float(tf.reduce_sum(tf.exp(log_mass))) == pytest.approx(1.0, abs=1e-4)


def test_bernoulli_log_likelihood_is_the_hand_computed_sum_over_pixels():
  x = tf.constant([[[[1.0], [0.0]]]])  # [1, 1, 2, 1]
  logits = tf.constant([[[[2.0], [-1.0]]]])
  expected = math.log(1 / (1 + math.exp(-2.0))) + math.log(1 - 1 / (1 + math.exp(1.0)))
  value = likelihoods.log_likelihood(x, logits, "bernoulli")
  assert float(value[0]) == pytest.approx(expected, rel=1e-6)


def test_gaussian_log_likelihood_is_a_density_on_the_unit_pixel_scale():
  images = tf.constant([[[[0.0]]]])  # Grey level 0.5 on the [0, 1] scale.
  outputs = tf.constant([[[[0.5, 0.0]]]])  # loc 0.5, scale softplus(0) + 1e-3.
  scale = math.log(2.0) + likelihoods.MIN_SCALE
  expected = -0.5 * math.log(2 * math.pi) - math.log(scale)
  value = likelihoods.log_likelihood(images, outputs, "gaussian")
  assert float(value[0]) == pytest.approx(expected, rel=1e-5)


def test_threshold_binarization_keeps_pixels_brighter_than_half_and_dynamic_draws_from_p():
  images = tf.constant([-1.0, -0.2, 0.2, 1.0])
  np.testing.assert_array_equal(likelihoods.binarize(images, "threshold"), [0, 0, 1, 1])
  noise = tf.constant([0.5, 0.39, 0.61, 0.99])  # p = 0, 0.4, 0.6, 1.
  np.testing.assert_array_equal(likelihoods.binarize(images, "dynamic", noise), [0, 1, 0, 1])


def test_mean_images_are_in_the_minus_one_one_range_for_every_likelihood():
  outputs = tf.constant([[[[5.0, -3.0]]]])
  for likelihood in likelihoods.LIKELIHOODS:
    channels = likelihoods.PARAMETERS_PER_CHANNEL[likelihood]
    images = likelihoods.mean_images(outputs[..., :channels], likelihood)
    assert -1.0 <= float(tf.reduce_min(images)) <= float(tf.reduce_max(images)) <= 1.0

"""MS-SSIM: identities, agreement with TensorFlow's implementation, and the pairs metric."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen.metrics import ms_ssim


def _smooth_images(rng, count, size, channels=1):
  noise = rng.uniform(0, 255, (count, size // 4, size // 4, channels)).astype(np.float32)
  return tf.image.resize(noise, [size, size], method="bilinear").numpy()


def test_ms_ssim_of_an_image_with_itself_is_one():
  images = _smooth_images(np.random.default_rng(0), 4, 28)
  np.testing.assert_allclose(ms_ssim.ms_ssim(images, images), 1.0, atol=1e-9)


def test_ms_ssim_is_symmetric_and_near_zero_for_independent_noise():
  rng = np.random.default_rng(1)
  left, right = rng.uniform(0, 255, (2, 8, 64, 64, 3))
  forward = ms_ssim.ms_ssim(left, right)
  np.testing.assert_allclose(ms_ssim.ms_ssim(right, left), forward, rtol=1e-9)
  assert forward.mean() < 0.1 and forward.max() < 0.25


def test_ms_ssim_falls_as_noise_is_added():
  rng = np.random.default_rng(2)
  images = _smooth_images(rng, 8, 28)
  values = [ms_ssim.ms_ssim(images, images + noise * rng.standard_normal(images.shape)).mean()
            for noise in (5.0, 20.0, 60.0)]
  assert values == sorted(values, reverse=True) and values[0] > 0.9


def test_ms_ssim_agrees_with_tensorflow_where_both_apply():
  # tf.image.ssim_multiscale needs every scale to fit the 11x11 window: 176 / 16 = 11.
  rng = np.random.default_rng(3)
  left = _smooth_images(rng, 2, 176, 3)
  right = np.clip(left + 30.0 * rng.standard_normal(left.shape), 0, 255).astype(np.float32)
  expected = tf.image.ssim_multiscale(left, right, max_val=255.0).numpy()
  np.testing.assert_allclose(ms_ssim.ms_ssim(left, right), expected, rtol=1e-3)


def test_pairs_metric_averages_consecutive_pairs_and_skips_an_odd_last_image():
  rng = np.random.default_rng(4)
  image = _smooth_images(rng, 1, 28)
  other = _smooth_images(rng, 1, 28)
  images = np.concatenate([image, image, image, other, other])
  expected = (1.0 + ms_ssim.ms_ssim(image, other)[0]) / 2.0
  assert ms_ssim.consecutive_pairs_ms_ssim(images) == pytest.approx(expected, rel=1e-9)


def test_pairs_straddling_batches_and_chunks_score_as_in_one_array():
  images = _smooth_images(np.random.default_rng(5), 11, 28)
  whole = ms_ssim.consecutive_pairs_ms_ssim(images)
  batches = (images[start:start + 3] for start in range(0, 11, 3))
  assert ms_ssim.consecutive_pairs_ms_ssim(batches) == whole
  assert ms_ssim.consecutive_pairs_ms_ssim(images, max_values_per_chunk=28 * 28) == whole
  with pytest.raises(ValueError, match="at least 2 images, got 1"):
    ms_ssim.consecutive_pairs_ms_ssim(iter([images[:1]]))

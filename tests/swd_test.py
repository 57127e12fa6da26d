"""Sliced Wasserstein distance: pyramid, descriptors and the distance itself."""

import numpy as np
import pytest

from keras_gen.metrics import swd


def _blobs(rng, count, size=32, width=3.0):
  grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1)
  centres = rng.uniform(8, size - 8, size=(count, 1, 1, 2))
  return 255.0 * np.exp(-np.sum((grid[None] - centres) ** 2, -1) / (2 * width ** 2))[..., None]


def test_levels_halve_from_full_resolution_down_to_16():
  assert swd.resolutions(128) == [128, 64, 32, 16]
  assert swd.resolutions(32) == [32, 16]
  assert swd.resolutions(28) == [28]


def test_pyramid_of_a_constant_image_is_zero_detail_and_a_constant_residual():
  images = np.full((2, 32, 32, 1), 7.0, np.float32)
  fine, coarse = swd.laplacian_pyramid(images, 2)
  assert fine.shape == (2, 32, 32, 1) and coarse.shape == (2, 16, 16, 1)
  np.testing.assert_allclose(fine, 0.0, atol=1e-5)
  np.testing.assert_allclose(coarse, 7.0, atol=1e-5)


def test_laplacian_pyramid_reconstructs_the_image():
  images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
  fine, coarse = swd.laplacian_pyramid(images, 2)
  np.testing.assert_allclose(fine + swd.pyramid_up(coarse, (32, 32)), images, atol=1e-3)


def test_descriptors_are_7x7_patches_normalized_per_channel():
  rng = np.random.default_rng(1)
  level = rng.uniform(0, 255, (4, 16, 16, 3)).astype(np.float32) * np.float32([1, 2, 3])
  ys, xs = swd.patch_positions(level.shape[1:3], len(level), rng)
  descriptors = swd.normalize(swd.patches(level, ys, xs))
  assert descriptors.shape == (4 * 128, 7 * 7 * 3)
  per_channel = descriptors.reshape(-1, 7, 7, 3)
  np.testing.assert_allclose(per_channel.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
  np.testing.assert_allclose(per_channel.std(axis=(0, 1, 2)), 1.0, atol=1e-4)


def test_sliced_wasserstein_of_one_dimensional_shifted_points_is_the_shift():
  rng = np.random.default_rng(2)
  points = rng.standard_normal((1000, 1)).astype(np.float32)
  directions = swd.random_directions(1, rng)  # In one dimension every direction is +-1.
  assert swd.sliced_wasserstein(points, points + 0.25, directions) == pytest.approx(0.25, rel=1e-4)


def _swd_per_level(images1, images2, seed=0):
  """SWD x1e3 between two image sets of one shape, per level and averaged."""
  return swd.swd_between(swd.pyramid_descriptors(images1, np.random.default_rng([seed, 0])),
                         swd.pyramid_descriptors(images2, np.random.default_rng([seed, 1])), seed)


def test_swd_of_a_set_against_itself_is_near_zero_and_grows_with_added_noise():
  rng = np.random.default_rng(3)
  real, generated = _blobs(rng, 64), _blobs(rng, 64)
  averages = []
  for noise in (0.0, 20.0, 60.0):
    noisy = generated + noise * rng.standard_normal(generated.shape)
    result = _swd_per_level(real, noisy, seed=0)
    assert set(result) == {"swd_x1e3_32", "swd_x1e3_16", "swd_x1e3_avg"}
    averages.append(result["swd_x1e3_avg"])
  itself = _swd_per_level(real, real, seed=0)["swd_x1e3_avg"]
  assert averages == sorted(averages)
  assert itself < 0.2 * averages[1] and averages[2] > 3 * averages[0]


def test_descriptors_of_streamed_batches_equal_those_of_one_array():
  rng = np.random.default_rng(4)
  images = _blobs(rng, 37).astype(np.float32)
  whole = swd.pyramid_descriptors(images, np.random.default_rng(5))
  batches = (images[start:start + 8] for start in range(0, 37, 8))
  streamed = swd.pyramid_descriptors(batches, np.random.default_rng(5), count=37)
  assert list(streamed) == [32, 16]
  for size in whole:
    np.testing.assert_array_equal(streamed[size], whole[size])


def test_streamed_descriptors_take_the_first_count_images_and_draw_no_further_batch():
  images = _blobs(np.random.default_rng(6), 20).astype(np.float32)
  drawn = []

  def batches():
    for start in range(0, 20, 8):
      drawn.append(start)
      yield images[start:start + 8]

  first_ten = swd.pyramid_descriptors(images[:10], np.random.default_rng(7))
  streamed = swd.pyramid_descriptors(batches(), np.random.default_rng(7), count=10)
  assert drawn == [0, 8]
  np.testing.assert_array_equal(streamed[16], first_ten[16])
  with pytest.raises(ValueError, match="expected 30 images, got 20"):
    swd.pyramid_descriptors(iter([images]), np.random.default_rng(7), count=30)
  with pytest.raises(ValueError, match="need their image count"):
    swd.pyramid_descriptors(iter([images]), np.random.default_rng(7))

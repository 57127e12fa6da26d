"""Latent paths and walks for `keras_gen.generate` (keras_gen.generation.latents)."""

import numpy as np
import pytest

from keras_gen.generation import latents


def test_slerp_keeps_the_norm_between_its_endpoints_norms_even_for_unequal_norms():
  rng = np.random.default_rng(0)
  a = rng.standard_normal([200, 16]) * rng.uniform(0.2, 3.0, [200, 1])
  b = rng.standard_normal([200, 16]) * rng.uniform(0.2, 3.0, [200, 1])
  b[:20] = -a[:20] * 2.0 + 1e-3  # Nearly antipodal pairs with different norms.
  path = latents.interpolate(a, b, 33, "slerp")
  norms = np.linalg.norm(path, axis=-1)
  low = np.minimum(np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1))[:, None]
  high = np.maximum(np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1))[:, None]
  assert np.all(norms >= low * (1 - 1e-5)) and np.all(norms <= high * (1 + 1e-5))


def test_slerp_between_equal_norms_stays_on_the_sphere_where_linear_cuts_inside():
  a, b = latents.gaussian(2, 512, seed=1)
  radius = np.linalg.norm(a)
  b = b / np.linalg.norm(b) * radius
  spherical = latents.slerp(a, b, np.linspace(0, 1, 9)[:, None])
  linear = latents.lerp(a, b, np.linspace(0, 1, 9)[:, None])
  np.testing.assert_allclose(np.linalg.norm(spherical, axis=-1), radius, rtol=1e-5)
  # Two independent 512-d Gaussians are nearly orthogonal: the midpoint of the chord has
  # about 1/sqrt(2) of their norm.
  assert np.linalg.norm(linear[4]) == pytest.approx(radius / np.sqrt(2), rel=0.1)


@pytest.mark.parametrize("method", ["slerp", "linear"])
def test_interpolation_paths_start_and_end_exactly_at_the_endpoints(method):
  a, b = latents.gaussian(3, 8, seed=2), latents.gaussian(3, 8, seed=3)
  path = latents.interpolate(a, b, 5, method)
  assert path.shape == (3, 5, 8)
  np.testing.assert_array_equal(path[:, 0], a)
  np.testing.assert_array_equal(path[:, -1], b)


def test_truncation_redraws_every_component_beyond_the_threshold():
  z = latents.gaussian(1000, 64, seed=0, truncation=0.5)
  assert np.abs(z).max() <= 0.5
  np.testing.assert_array_equal(latents.gaussian(4, 3, seed=7), latents.gaussian(4, 3, seed=7))


def test_smooth_walk_loops_and_keeps_the_typical_norm_of_the_prior():
  walk = latents.smooth_walk(frames=96, count=3, latent_dim=32, seed=0, sigma_frames=8)
  assert walk.shape == (96, 3, 32)
  np.testing.assert_allclose(np.linalg.norm(walk, axis=-1), np.sqrt(32), rtol=1e-5)
  steps = np.linalg.norm(np.diff(walk, axis=0), axis=-1)
  wrap = np.linalg.norm(walk[0] - walk[-1], axis=-1)
  assert np.all(wrap <= 1.5 * steps.max())  # The last frame leads back to the first.
  assert np.linalg.norm(walk[0] - walk[48], axis=-1).min() > 5 * steps.max()  # It moves.


def test_keypoint_loop_passes_through_every_keypoint_and_returns_to_the_first():
  keypoints = np.arange(4 * 2, dtype=np.float32).reshape(4, 2)
  tour = latents.keypoint_loop(keypoints, frames=20)
  np.testing.assert_allclose(tour[::5], keypoints)
  assert np.linalg.norm(tour[-1] - keypoints[0]) < np.linalg.norm(keypoints[3] - keypoints[0])


def test_nonfinite_rows_names_every_row_holding_a_nan_or_an_infinity():
  z = np.zeros([5, 3], np.float32)
  z[1, 2], z[3, 0], z[4, 1] = np.nan, np.inf, -np.inf
  assert latents.nonfinite_rows(z) == [1, 3, 4]
  assert latents.nonfinite_rows(np.ones([2, 3])) == []

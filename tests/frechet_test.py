"""Fréchet distance, KID and Inception Score formulas against closed forms on Gaussian data."""

import numpy as np
import pytest

from keras_gen.metrics import frechet


def _random_covariance(rng, dimension):
  factor = rng.standard_normal((dimension, dimension))
  return factor @ factor.T / dimension + 0.1 * np.eye(dimension)


def test_frechet_distance_of_diagonal_gaussians_matches_the_closed_form():
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
  variances1, variances2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  # ||mu1 - mu2||^2 + sum(v1 + v2 - 2 sqrt(v1 v2)) = 5 + (10 - 6) + (5 - 4) + 0.
  expected = 5.0 + 4.0 + 1.0 + 0.0
  assert frechet.frechet_distance(mu1, np.diag(variances1), mu2,
                                  np.diag(variances2)) == pytest.approx(expected, abs=1e-9)


def test_trace_sqrt_product_equals_the_root_eigenvalues_of_the_product():
  rng = np.random.default_rng(0)
  sigma1, sigma2 = _random_covariance(rng, 6), _random_covariance(rng, 6)
  # S1 S2 is similar to a symmetric PSD matrix, so its eigenvalues are real and non-negative.
  expected = np.sqrt(np.linalg.eigvals(sigma1 @ sigma2).real).sum()
  assert frechet.trace_sqrt_product(sigma1, sigma2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_symmetric_and_zero_for_identical_gaussians():
  rng = np.random.default_rng(1)
  mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
  sigma1, sigma2 = _random_covariance(rng, 5), _random_covariance(rng, 5)
  forward = frechet.frechet_distance(mu1, sigma1, mu2, sigma2)
  assert forward > 0.1
  assert frechet.frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(forward, rel=1e-9)
  assert frechet.frechet_distance(mu1, sigma1, mu1, sigma1) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_few_high_dimensional_vectors_matches_the_statistics_route():
  rng = np.random.default_rng(7)
  left, right = rng.standard_normal((20, 64)), 0.5 + 2.0 * rng.standard_normal((30, 64))
  expected = frechet.frechet_distance(*frechet.feature_statistics(left),
                                      *frechet.feature_statistics(right))
  assert frechet.frechet_distance_of_features(left, right) == pytest.approx(expected, rel=1e-6)
  assert frechet.frechet_distance_of_features(left, left) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_samples_approaches_the_closed_form():
  rng = np.random.default_rng(2)
  left = rng.normal([0.0, 0.0], [1.0, 2.0], size=(200_000, 2))
  right = rng.normal([1.0, 0.0], [2.0, 2.0], size=(200_000, 2))
  # 1 + (1 + 4 - 4) + (4 + 4 - 8) = 2.
  distance = frechet.frechet_distance(*frechet.feature_statistics(left),
                                      *frechet.feature_statistics(right))
  assert distance == pytest.approx(2.0, abs=0.05)


def test_frechet_distance_and_kid_of_a_set_with_itself_are_zero():
  features = np.random.default_rng(3).standard_normal((500, 8))
  statistics = frechet.feature_statistics(features)
  assert frechet.frechet_distance(*statistics, *statistics) == pytest.approx(0.0, abs=1e-9)
  kid, _ = frechet.kernel_distance(features, features, num_subsets=20, subset_size=200)
  shifted, _ = frechet.kernel_distance(features, features + 0.5, num_subsets=20, subset_size=200)
  assert abs(kid) < 0.05 and shifted > 1.0


def test_frechet_distance_and_kid_grow_with_added_noise():
  rng = np.random.default_rng(4)
  real = rng.standard_normal((2000, 8))
  generated = rng.standard_normal((2000, 8))
  fids, kids = [], []
  for noise in (0.0, 0.5, 1.0, 2.0):
    noisy = generated + noise * rng.standard_normal(generated.shape)
    fids.append(frechet.frechet_distance(*frechet.feature_statistics(real),
                                         *frechet.feature_statistics(noisy)))
    kids.append(frechet.kernel_distance(real, noisy, num_subsets=20, subset_size=500)[0])
  assert fids == sorted(fids) and fids[-1] > 10 * fids[0] + 1.0
  assert kids == sorted(kids) and kids[-1] > 1.0


def test_kernel_distance_matches_the_closed_form_mmd_of_one_dimensional_gaussians():
  # For k(x, y) = (xy + 1)^3 and independent x, y: E k = 1 + 3 E[x]E[y] + 3 E[x^2]E[y^2]
  # + E[x^3]E[y^3]; Gaussian N(a, s^2) moments are a, a^2 + s^2, a^3 + 3 a s^2.
  def moments(mean, std):
    return np.array([mean, mean ** 2 + std ** 2, mean ** 3 + 3 * mean * std ** 2])

  def expected_kernel(p, q):
    return 1 + 3 * p[0] * q[0] + 3 * p[1] * q[1] + p[2] * q[2]

  p, q = moments(0.5, 1.0), moments(0.0, 1.0)
  expected = expected_kernel(p, p) + expected_kernel(q, q) - 2 * expected_kernel(p, q)
  rng = np.random.default_rng(5)
  left = rng.normal(0.5, 1.0, size=(4000, 1))
  right = rng.normal(0.0, 1.0, size=(4000, 1))
  kid, _ = frechet.kernel_distance(left, right, num_subsets=1, subset_size=4000)
  assert kid == pytest.approx(expected, rel=0.1)


def test_inception_score_is_the_class_count_for_confident_balanced_predictions():
  logits = 50.0 * np.eye(10)[np.arange(1000) % 10]
  score, spread = frechet.inception_score(logits, num_splits=10)
  assert score == pytest.approx(10.0, rel=1e-6)
  assert spread == pytest.approx(0.0, abs=1e-6)


def test_inception_score_is_one_when_every_prediction_is_the_same():
  logits = np.tile(np.random.default_rng(6).standard_normal(10), (100, 1))
  assert frechet.inception_score(logits, num_splits=5)[0] == pytest.approx(1.0, abs=1e-9)


def test_mismatched_feature_statistics_are_refused():
  with pytest.raises(ValueError, match="Mismatched statistics"):
    frechet.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))

"""Improved precision and recall (k=3) on point sets with known answers."""

import numpy as np
import pytest

from keras_gen.metrics import precision_recall


def _clusters(rng, centres, per_cluster):
  return np.concatenate([centre + 0.1 * rng.standard_normal((per_cluster, 2))
                         for centre in centres])


def test_knn_radius_is_the_squared_distance_to_the_third_other_point():
  points = np.arange(10, dtype=np.float64)[:, None]
  radii = precision_recall.knn_radii(points, k=3)
  assert radii[0] == pytest.approx(9.0)  # Neighbours 1, 2, 3 of point 0.
  assert radii[5] == pytest.approx(4.0)  # Neighbours 4, 6, then 3 or 7 at distance 2.


def test_a_set_against_itself_has_precision_and_recall_one():
  features = np.random.default_rng(0).standard_normal((300, 4))
  assert precision_recall.precision_recall(features, features) == (1.0, 1.0)


def test_samples_on_half_the_modes_have_full_precision_and_half_recall():
  rng = np.random.default_rng(1)
  centres = [np.array([10.0 * i, 0.0]) for i in range(4)]
  real = _clusters(rng, centres, 200)
  generated = _clusters(rng, centres[:2], 400)
  precision, recall = precision_recall.precision_recall(real, generated)
  assert precision > 0.97
  assert recall == pytest.approx(0.5, abs=0.03)


def test_samples_far_from_the_data_have_zero_precision_and_recall():
  rng = np.random.default_rng(2)
  real = rng.standard_normal((200, 3))
  assert precision_recall.precision_recall(real, real + 100.0) == (0.0, 0.0)


def test_mismatched_feature_sizes_are_refused():
  with pytest.raises(ValueError, match="needs \\[N, D\\] and \\[M, D\\]"):
    precision_recall.precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))

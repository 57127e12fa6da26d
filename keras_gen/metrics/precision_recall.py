"""Improved precision and recall (Kynkäänniemi et al. 2019; docs/evaluation.md)."""

import numpy as np

from keras_gen.metrics import feature_metrics
from keras_gen.metrics import image_sets

DEFAULT_K = 3
_ROWS_PER_CHUNK = 1024


def _squared_distances(x, y):
  """[n, D], [m, D] -> [n, m] squared Euclidean distances, clipped at 0."""
  distances = np.sum(x * x, axis=1)[:, None] + np.sum(y * y, axis=1)[None, :] - 2.0 * x @ y.T
  return np.maximum(distances, 0.0)


def knn_radii(features, k=DEFAULT_K):
  """[N, D] -> [N] squared distance of each vector to its k-th nearest other vector."""
  if len(features) <= k:
    raise ValueError(f"k-NN radii with k={k} need more than {k} vectors, got {len(features)}.")
  radii = []
  for start in range(0, len(features), _ROWS_PER_CHUNK):
    distances = _squared_distances(features[start:start + _ROWS_PER_CHUNK], features)
    # Index k, not k - 1: each vector's nearest neighbour is itself.
    radii.append(np.partition(distances, k, axis=1)[:, k])
  return np.concatenate(radii)


def coverage(queries, manifold, radii):
  """Fraction of `queries` [n, D] within radii[j] of some manifold[j] (radii squared)."""
  inside = []
  for start in range(0, len(queries), _ROWS_PER_CHUNK):
    distances = _squared_distances(queries[start:start + _ROWS_PER_CHUNK], manifold)
    inside.append(np.any(distances <= radii[None, :], axis=1))
  return float(np.concatenate(inside).mean())


def precision_recall(real_features, generated_features, k=DEFAULT_K):
  """real [N, D], generated [M, D] -> (precision, recall), both in [0, 1]."""
  real = np.asarray(real_features, np.float64)
  generated = np.asarray(generated_features, np.float64)
  if real.ndim != 2 or real.shape[1:] != generated.shape[1:]:
    raise ValueError(f"Precision/recall needs [N, D] and [M, D] features, got {real.shape} "
                     f"and {generated.shape}.")
  precision = coverage(generated, real, knn_radii(real, k))
  recall = coverage(real, generated, knn_radii(generated, k))
  return precision, recall


def precision_recall_metric(subject, options):
  """The `prd` metric: improved precision and recall of samples against held-out images."""
  k = image_sets.int_option(options, "prd_k", DEFAULT_K)
  extractor = feature_metrics.get_extractor(feature_metrics.feature_kind("prd", options.extra),
                                            options, "prd")
  real, generated = feature_metrics.real_and_generated(subject, options, extractor, "prd")
  precision, recall = precision_recall(real.features, generated.features, k)
  return {"precision": precision, "recall": recall, "k": k, "num_samples": len(generated.features),
          "num_real": len(real.features), "feature_extractor": extractor.description}

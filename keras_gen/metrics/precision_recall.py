"""Improved precision and recall (Kynkäänniemi et al. 2019; docs/evaluation.md)."""

import numpy as np

from keras_gen.metrics import feature_metrics
from keras_gen.metrics import image_sets

DEFAULT_K = 3
_ROWS_PER_CHUNK = 1024


def _squared_distances(x, y):
  """[n, D], [m, D] -> [<= 1024, m] squared Euclidean distances, clipped at 0, chunk by chunk."""
  for start in range(0, len(x), _ROWS_PER_CHUNK):
    chunk = x[start:start + _ROWS_PER_CHUNK]
    distances = (np.sum(chunk * chunk, axis=1)[:, None] + np.sum(y * y, axis=1)[None, :]
                 - 2.0 * chunk @ y.T)
    yield np.maximum(distances, 0.0)


def knn_radii(features, k=DEFAULT_K):
  """[N, D] -> [N] squared distance of each vector to its k-th nearest other vector."""
  if len(features) <= k:
    raise ValueError(f"k-NN radii with k={k} need more than {k} vectors, got {len(features)}.")
  # Index k, not k - 1: each vector's nearest neighbour is itself.
  return np.concatenate([np.partition(distances, k, axis=1)[:, k]
                         for distances in _squared_distances(features, features)])


def coverage(queries, manifold, radii):
  """Fraction of `queries` [n, D] within radii[j] of some manifold[j] (radii squared)."""
  return float(np.concatenate([np.any(distances <= radii[None, :], axis=1)
                               for distances in _squared_distances(queries, manifold)]).mean())


def precision_recall(real_features, generated_features, k=DEFAULT_K):
  """real [N, D], generated [M, D] -> (precision, recall), both in [0, 1]."""
  real, generated = (np.asarray(features, np.float64)
                     for features in (real_features, generated_features))
  if real.ndim != 2 or real.shape[1:] != generated.shape[1:]:
    raise ValueError(f"Precision/recall needs [N, D] and [M, D] features, got {real.shape} "
                     f"and {generated.shape}.")
  return (coverage(generated, real, knn_radii(real, k)),
          coverage(real, generated, knn_radii(generated, k)))


def precision_recall_metric(subject, options):
  """The `prd` metric: improved precision and recall of samples against held-out images."""
  k = image_sets.int_option(options, "prd_k", DEFAULT_K)
  extractor, real, generated = feature_metrics.real_and_generated(subject, options, "prd")
  precision, recall = precision_recall(real, generated, k)
  return {"precision": precision, "recall": recall, "k": k, "num_samples": len(generated),
          "num_real": len(real), "feature_extractor": extractor.description}

"""Fréchet distance, KID and the Inception Score form on feature arrays, in float64."""

import numpy as np


def feature_statistics(features):
  """features [N, D] -> (mean [D], covariance [D, D]) with the unbiased (N - 1) covariance."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError(f"Feature statistics need [N, D] features with N >= 2, got {features.shape}.")
  return features.mean(axis=0), np.cov(features, rowvar=False)


def trace_sqrt_product(sigma1, sigma2):
  """Tr sqrt(S1 S2) for symmetric PSD S1, S2, by the eigenvalues of sqrt(S1) S2 sqrt(S1)."""
  sigma1 = np.asarray(sigma1, np.float64)
  eigenvalues, eigenvectors = np.linalg.eigh((sigma1 + sigma1.T) / 2.0)
  sqrt_sigma1 = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
  inner = sqrt_sigma1 @ np.asarray(sigma2, np.float64) @ sqrt_sigma1
  eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
  return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2):
  """||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr sqrt(S1 S2) >= 0, FID's (Heusel et al. 2017)."""
  mu1, sigma1, mu2, sigma2 = (np.asarray(value, np.float64) for value in (mu1, sigma1, mu2, sigma2))
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
    raise ValueError(f"Mismatched statistics: means {mu1.shape} and {mu2.shape}, "
                     f"covariances {sigma1.shape} and {sigma2.shape}.")
  distance = (np.sum(np.square(mu1 - mu2)) + np.trace(sigma1) + np.trace(sigma2)
              - 2.0 * trace_sqrt_product(sigma1, sigma2))
  return float(max(distance, 0.0))


def frechet_distance_of_features(features1, features2):
  """`frechet_distance` of Gaussians fitted to [N1, D] and [N2, D]; with fewer vectors than D,
  Tr sqrt(S1 S2) is the singular values' sum of A B' / sqrt((N1 - 1)(N2 - 1)), A, B centred."""
  x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
  if x.ndim != 2 or x.shape[1:] != y.shape[1:]:
    raise ValueError(f"Mismatched features: {x.shape} and {y.shape}.")
  if max(len(x), len(y)) >= x.shape[1]:
    return frechet_distance(*feature_statistics(x), *feature_statistics(y))
  mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
  centred1, centred2 = x - mu1, y - mu2
  scale1, scale2 = len(x) - 1, len(y) - 1
  trace_sqrt = np.linalg.svd(centred1 @ centred2.T, compute_uv=False).sum() / np.sqrt(
      scale1 * scale2)
  distance = (np.sum(np.square(mu1 - mu2)) + np.sum(centred1 ** 2) / scale1
              + np.sum(centred2 ** 2) / scale2 - 2.0 * trace_sqrt)
  return float(max(distance, 0.0))


def polynomial_kernel(x, y):
  """KID's kernel k(x, y) = (x . y / D + 1)^3 on [N, D] and [M, D] -> [N, M]."""
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def unbiased_mmd2(x, y):
  """The unbiased estimate of MMD^2 with `polynomial_kernel` (diagonals left out)."""
  m, n = len(x), len(y)
  k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
  return ((k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
          + (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n))


def kernel_distance(features1, features2, num_subsets=100, subset_size=1000, seed=0):
  """KID (Bińkowski et al. 2018) of [N, D] and [M, D] features: (mean, std) over subsets."""
  x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
  if x.ndim != 2 or x.shape[1:] != y.shape[1:]:
    raise ValueError(f"KID needs [N, D] and [M, D] features, got {x.shape} and {y.shape}.")
  size = min(subset_size, len(x), len(y))
  if size < 2:
    raise ValueError(f"KID needs at least 2 vectors per set, got {len(x)} and {len(y)}.")
  rng = np.random.default_rng(seed)
  estimates = [unbiased_mmd2(x[rng.choice(len(x), size, replace=False)],
                             y[rng.choice(len(y), size, replace=False)])
               for _ in range(num_subsets)]
  return float(np.mean(estimates)), float(np.std(estimates))


def inception_score(logits, num_splits=10):
  """exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016) of logits [N, K]: (mean, std), in [1, K]."""
  logits = np.asarray(logits, np.float64)
  log_probabilities = logits - logits.max(axis=1, keepdims=True)
  log_probabilities -= np.log(np.exp(log_probabilities).sum(axis=1, keepdims=True))
  probabilities = np.exp(log_probabilities)
  scores = []
  for part, log_part in zip(np.array_split(probabilities, num_splits),
                            np.array_split(log_probabilities, num_splits)):
    log_marginal = np.log(np.maximum(part.mean(axis=0, keepdims=True), 1e-30))
    kl = np.sum(part * (log_part - log_marginal), axis=1)
    scores.append(np.exp(kl.mean()))
  return float(np.mean(scores)), float(np.std(scores))

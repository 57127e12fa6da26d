"""Toy 2-D Gaussian mixtures of the GAN mode-coverage studies (Metz et al. 2017; docs/data.md)."""

import numpy as np

from keras_gen.data.errors import DataError

MIXTURE_STDS = {"ring8": 0.02, "grid25": 0.05}
NUM_POINTS = {"train": 100_000, "test": 10_000}


def mixture_modes(name: str) -> np.ndarray:
  """float32 [K, 2], row k the mode of label k: ring8's 8 at radius 2, grid25's {-4,-2,0,2,4}^2."""
  mixture_std(name)  # Refuses an unknown name.
  if name == "ring8":
    angles = 2.0 * np.pi * np.arange(8) / 8
    return (2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)
  coordinates = (-4.0, -2.0, 0.0, 2.0, 4.0)
  xs, ys = np.meshgrid(coordinates, coordinates, indexing="ij")
  return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def mixture_std(name: str) -> float:
  """The standard deviation of every mode of a toy mixture (0.02 ring8, 0.05 grid25)."""
  if name not in MIXTURE_STDS:
    raise DataError(f"Mixture {name!r} is unknown; expected one of {list(MIXTURE_STDS)}.")
  return MIXTURE_STDS[name]


def sample_mixture(name: str, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(float32 points [N, 2], int64 modes [N]) of a split, N = 100_000 train, 10_000 test."""
  modes = mixture_modes(name)
  rng = np.random.default_rng(seed)
  if split == "test":
    rng = rng.spawn(1)[0]
  labels = rng.integers(len(modes), size=NUM_POINTS[split])
  points = modes[labels] + mixture_std(name) * rng.standard_normal((len(labels), 2))
  return points.astype(np.float32), labels.astype(np.int64)

"""Toy 2-D Gaussian mixtures of the GAN mode-coverage studies (Metz et al. 2017; docs/data.md)."""

import numpy as np

from keras_gen.data.errors import DataError

RING8_RADIUS = 2.0
RING8_NUM_MODES = 8
RING8_STD = 0.02

GRID25_COORDINATES = (-4.0, -2.0, 0.0, 2.0, 4.0)
GRID25_STD = 0.05

NUM_POINTS = {"train": 100_000, "test": 10_000}

MIXTURE_NAMES = ("ring8", "grid25")


def mixture_modes(name: str) -> np.ndarray:
  """float32 [K, 2] (K = 8 ring8, 25 grid25); row k is the mode of the samples labelled k."""
  if name == "ring8":
    angles = 2.0 * np.pi * np.arange(RING8_NUM_MODES) / RING8_NUM_MODES
    return (RING8_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype(np.float32)
  if name == "grid25":
    xs, ys = np.meshgrid(GRID25_COORDINATES, GRID25_COORDINATES, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
  raise DataError(f"Mixture {name!r} is unknown; expected one of {list(MIXTURE_NAMES)}.")


def mixture_std(name: str) -> float:
  """The standard deviation of every mode of a toy mixture (0.02 ring8, 0.05 grid25)."""
  if name == "ring8":
    return RING8_STD
  if name == "grid25":
    return GRID25_STD
  raise DataError(f"Mixture {name!r} is unknown; expected one of {list(MIXTURE_NAMES)}.")


def sample_mixture(name: str, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(float32 points [N, 2], int64 modes [N]) of a split, N = 100_000 train, 10_000 test."""
  modes = mixture_modes(name)
  rng = np.random.default_rng(seed)
  if split == "test":
    rng = rng.spawn(1)[0]
  labels = rng.integers(len(modes), size=NUM_POINTS[split])
  points = modes[labels] + mixture_std(name) * rng.standard_normal((len(labels), 2))
  return points.astype(np.float32), labels.astype(np.int64)

"""Toy 2-D Gaussian mixtures for the GAN mode-coverage studies.

The protocol, pinned here so that results stay comparable:

  ring8   8 Gaussians with means equally spaced on a circle of radius 2.0
          (mode k at angle 2*pi*k/8), each with standard deviation 0.02
          (Metz et al. 2017, "Unrolled Generative Adversarial Networks").
  grid25  25 Gaussians with means on the grid {-4, -2, 0, 2, 4}^2, each with
          standard deviation 0.05 (as in VEEGAN, Srivastava et al. 2017, and
          PacGAN, Lin et al. 2018).

Every mode has weight 1/K. The train split is 100_000 points drawn from
`np.random.default_rng(seed)`; the test split is 10_000 points drawn from the
first child stream of the same seed (`default_rng(seed).spawn(1)[0]`), so the
two never share samples.
"""

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
  """The means of a toy mixture: float32 [K, 2] (K = 8 for ring8, 25 for grid25).

  Row k is the mode whose samples carry label k.
  """
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
  """Draws one split of a toy mixture, deterministically from seed.

  Returns:
    (float32 points [N, 2], int64 labels [N] giving each point's mode), with
    N = 100_000 for "train" and 10_000 for "test".
  """
  modes = mixture_modes(name)
  rng = np.random.default_rng(seed)
  if split == "test":
    rng = rng.spawn(1)[0]
  labels = rng.integers(len(modes), size=NUM_POINTS[split])
  points = modes[labels] + mixture_std(name) * rng.standard_normal((len(labels), 2))
  return points.astype(np.float32), labels.astype(np.int64)

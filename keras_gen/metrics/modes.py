"""Mode coverage on the toy Gaussian mixtures (ring8, grid25), the unrolled GAN's experiment.

The protocol, pinned (Metz et al. 2017; Srivastava et al. 2017, "VEEGAN"; Lin
et al. 2018, "PacGAN"), with the mixtures of `keras_gen.data.mixtures`:

  - a sample is high quality when it lies within 3 standard deviations of the
    mode nearest to it (3 x 0.02 for ring8, 3 x 0.05 for grid25);
  - a mode is covered when it is the nearest mode of at least one high-quality
    sample;
  - the reverse KL is KL(p || uniform) = sum_k p_k log(K p_k), where p is the
    histogram of the nearest modes of the high-quality samples (0 log 0 = 0); it
    is log K when every sample sits at one mode and 0 for a perfect spread. With
    no high-quality sample at all it is reported as log K as well.

The metric samples 2,500 points (the papers' figure) and 100,000.
"""

import numpy as np

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import plots

# Standard deviations from the nearest mode within which a sample is high quality.
HIGH_QUALITY_STDS = 3.0
SAMPLE_COUNTS = (2_500, 100_000)


def mode_coverage(samples, modes, std):
  """Counts covered modes on [N, 2] samples against [K, 2] modes of standard deviation std.

  Returns:
    {"modes_covered": int in [0, K], "num_modes": K,
     "high_quality_fraction": float in [0, 1],
     "reverse_kl": float in [0, log K]}.
  """
  samples = np.asarray(samples, np.float64)
  modes = np.asarray(modes, np.float64)
  distances = np.sqrt(((samples[:, None, :] - modes[None, :, :]) ** 2).sum(-1))
  nearest = distances.argmin(axis=1)
  high_quality = distances[np.arange(len(samples)), nearest] <= HIGH_QUALITY_STDS * std
  counts = np.bincount(nearest[high_quality], minlength=len(modes)).astype(np.float64)
  if counts.sum() > 0:
    histogram = counts / counts.sum()
    present = histogram > 0
    reverse_kl = float(np.sum(histogram[present] * np.log(len(modes) * histogram[present])))
  else:
    reverse_kl = float(np.log(len(modes)))
  return {"modes_covered": int((counts > 0).sum()),
          "num_modes": int(len(modes)),
          "high_quality_fraction": float(high_quality.mean()) if len(samples) else 0.0,
          "reverse_kl": reverse_kl}


def modes(subject, options):
  """The `modes` metric: mode_coverage on 2,500 and on 100,000 samples of the subject.

  Keys are suffixed with the sample count, e.g. modes_covered_2500. For a
  checkpoint (--model_dir) it also writes samples/points_over_training.png.
  """
  dataset = subject.dataset
  if dataset not in ("ring8", "grid25"):
    raise config_lib.ConfigError(
        f"The modes metric needs a toy mixture dataset (ring8 or grid25), not {dataset!r}.")
  mode_means, std = data.mixture_modes(dataset), data.mixture_std(dataset)
  results = {}
  for count in SAMPLE_COUNTS:
    samples = subject.sample(count, options.seed, batch_size=1024)
    for key, value in mode_coverage(samples, mode_means, std).items():
      results[f"{key}_{count}"] = value
  if subject.run is not None:
    path, _ = plots.training_row(subject.run.config.model_dir)
    if path:
      results["plot"] = path
  return results

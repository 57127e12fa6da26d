"""Mode coverage on the toy mixtures ring8 and grid25 (Metz et al. 2017; docs/evaluation.md)."""

import numpy as np

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import plots

# Standard deviations from the nearest mode within which a sample is high quality.
HIGH_QUALITY_STDS = 3.0
SAMPLE_COUNTS = (2_500, 100_000)


def mode_coverage(samples, modes, std):
  """[N, 2] samples vs [K, 2] modes of std `std`: modes covered, high-quality share, reverse KL."""
  samples, modes = np.asarray(samples, np.float64), np.asarray(modes, np.float64)
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
  return {"modes_covered": int((counts > 0).sum()), "num_modes": int(len(modes)),
          "high_quality_fraction": float(high_quality.mean()) if len(samples) else 0.0,
          "reverse_kl": reverse_kl}


def modes(subject, options):
  """mode_coverage on 2,500 and 100,000 samples, keys suffixed by the count."""
  dataset = subject.metadata["dataset"]
  if dataset not in ("ring8", "grid25"):
    raise config_lib.ConfigError(f"The modes metric needs a toy mixture dataset (ring8 or "
                                 f"grid25), not {dataset!r}.")
  mode_means, std = data.mixture_modes(dataset), data.mixture_std(dataset)
  results = {}
  for count in SAMPLE_COUNTS:
    coverage = mode_coverage(subject.sample(count, options.seed, batch_size=1024), mode_means, std)
    results.update({f"{key}_{count}": value for key, value in coverage.items()})
  if subject.run is not None:
    path, _ = plots.training_row(subject.run.config.model_dir)
    if path:
      results["plot"] = path
  return results

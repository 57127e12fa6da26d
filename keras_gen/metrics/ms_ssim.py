"""MS-SSIM (Wang et al. 2003) of sample pairs, as Progressive GAN's code (docs/evaluation.md)."""

import numpy as np

from keras_gen.metrics import image_sets

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE = 11
FILTER_SIGMA = 1.5
K1, K2 = 0.01, 0.03
MAX_VALUE = 255.0
# Every scale halves the side; the fifth must still be one pixel.
MIN_RESOLUTION = 2 ** (len(WEIGHTS) - 1)


def _valid_filter(images, window):
  """'valid' separable filtering of [N, H, W, C] along H then W."""
  size = len(window)
  height, width = images.shape[1] - size + 1, images.shape[2] - size + 1
  images = sum(window[i] * images[:, i:i + height] for i in range(size))
  return sum(window[i] * images[:, :, i:i + width] for i in range(size))


def ssim_and_contrast(images1, images2):
  """Per-image SSIM and contrast-structure term at one scale: [N, H, W, C] x2 -> ([N], [N])."""
  size = min(FILTER_SIZE, images1.shape[1], images1.shape[2])
  positions = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  window = np.exp(-positions ** 2 / (2.0 * (size * FILTER_SIGMA / FILTER_SIZE) ** 2))
  window /= window.sum()
  mu1, mu2 = _valid_filter(images1, window), _valid_filter(images2, window)
  sigma11 = _valid_filter(images1 * images1, window) - mu1 * mu1
  sigma22 = _valid_filter(images2 * images2, window) - mu2 * mu2
  sigma12 = _valid_filter(images1 * images2, window) - mu1 * mu2
  c1, c2 = (K1 * MAX_VALUE) ** 2, (K2 * MAX_VALUE) ** 2
  v1, v2 = 2.0 * sigma12 + c2, sigma11 + sigma22 + c2
  ssim = ((2.0 * mu1 * mu2 + c1) * v1) / ((mu1 * mu1 + mu2 * mu2 + c1) * v2)
  return ssim.mean(axis=(1, 2, 3)), (v1 / v2).mean(axis=(1, 2, 3))


def _downsample(images):
  height, width = images.shape[1] // 2 * 2, images.shape[2] // 2 * 2
  images = images[:, :height, :width]
  return (images[:, 0::2, 0::2] + images[:, 1::2, 0::2] + images[:, 0::2, 1::2]
          + images[:, 1::2, 1::2]) * 0.25


def ms_ssim(images1, images2):
  """Per-pair MS-SSIM of [N, H, W, C] images on the [0, 255] scale -> [N] in [0, 1]."""
  if images1.shape != images2.shape or images1.ndim != 4:
    raise ValueError(f"MS-SSIM compares equal-shaped [N, H, W, C] batches, got {images1.shape} "
                     f"and {images2.shape}.")
  images1, images2 = np.asarray(images1, np.float64), np.asarray(images2, np.float64)
  scales = []
  for _ in WEIGHTS:
    scales.append(ssim_and_contrast(images1, images2))
    images1, images2 = _downsample(images1), _downsample(images2)
  # Clipped at zero as in the reference code: a negative term to a fractional power is NaN.
  ssims, contrasts = (np.clip(terms, 0.0, None) for terms in zip(*scales))
  weights = np.asarray(WEIGHTS)[:, None]
  return np.prod(contrasts[:-1] ** weights[:-1], axis=0) * ssims[-1] ** weights[-1, 0]


def consecutive_pairs_ms_ssim(images, max_values_per_chunk=2 ** 24):
  """Mean MS-SSIM of pairs (0, 1), (2, 3), ... of [N, H, W, C] on [0, 255], or batches of them."""
  scores, carry, total = [], None, 0
  for batch in image_sets.as_batches(images):
    total += len(batch)
    if carry is not None:
      batch = np.concatenate([carry, batch])
    paired = len(batch) // 2 * 2
    carry = batch[paired:] if paired < len(batch) else None
    pairs_per_chunk = max(1, max_values_per_chunk // int(np.prod(batch.shape[1:])))
    for start in range(0, paired, 2 * pairs_per_chunk):
      stop = min(paired, start + 2 * pairs_per_chunk)
      scores.append(ms_ssim(batch[start:stop:2], batch[start + 1:stop:2]))
  if not scores:
    raise ValueError(f"MS-SSIM over pairs needs at least 2 images, got {total}.")
  return float(np.concatenate(scores).mean())


def ms_ssim_metric(subject, options):
  """The `ms_ssim` metric: mean MS-SSIM of consecutive sample pairs, and of held-out pairs."""
  real = image_sets.held_out_examples_of_at_least(
      options, "ms_ssim", MIN_RESOLUTION,
      f"its {len(WEIGHTS)} scales need images of at least {MIN_RESOLUTION}x{MIN_RESOLUTION}")
  generated = image_sets.generated_batches(subject, options, "ms_ssim")
  return {"ms_ssim": consecutive_pairs_ms_ssim(image_sets.on_255_scale(generated)),
          "ms_ssim_real": consecutive_pairs_ms_ssim(
              image_sets.real_batches_on_255_scale(real, options.batch_size)),
          "num_pairs": options.num_samples // 2, "num_real_pairs": len(real) // 2}

"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, section 5)."""

import numpy as np

from keras_gen.metrics import image_sets

NEIGHBOURHOOD_SIZE = 7
NEIGHBOURHOODS_PER_IMAGE = 128
DIRECTION_REPEATS = 4
DIRECTIONS_PER_REPEAT = 128
MIN_RESOLUTION = 16

# The 5x5 binomial filter of cv2.pyrDown / pyrUp, as a separable 1-D kernel.
_BINOMIAL = np.float32([1, 4, 6, 4, 1]) / 16.0


def _filter(images, kernel):
  """Separable 5x5 filtering of [N, H, W, C], mirror boundaries (scipy's 'mirror')."""
  height, width = images.shape[1:3]
  padded = np.pad(images, ((0, 0), (2, 2), (0, 0), (0, 0)), mode="reflect")
  images = sum(kernel[i] * padded[:, i:i + height] for i in range(5))
  padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (0, 0)), mode="reflect")
  return sum(kernel[i] * padded[:, :, i:i + width] for i in range(5))


def pyramid_down(images):
  """Gaussian blur then drop every other row and column: [N, H, W, C] -> [N, ceil(H/2), ...]."""
  return _filter(images, _BINOMIAL)[:, ::2, ::2]


def pyramid_up(images, shape):
  """Zero-insertion upsampling then 4x the blur, cropped to `shape` (H, W)."""
  count, height, width, channels = images.shape
  upsampled = np.zeros((count, 2 * height, 2 * width, channels), np.float32)
  upsampled[:, ::2, ::2] = images
  return _filter(upsampled, _BINOMIAL * 2.0)[:, :shape[0], :shape[1]]


def laplacian_pyramid(images, num_levels):
  """[N, H, W, C] -> num_levels arrays, finest first; the last is the low-pass residual."""
  levels = [np.asarray(images, np.float32)]
  for _ in range(1, num_levels):
    levels.append(pyramid_down(levels[-1]))
    levels[-2] = levels[-2] - pyramid_up(levels[-1], levels[-2].shape[1:3])
  return levels


def resolutions(size):
  """The pyramid levels' sizes: size, size // 2, ... while >= 16 (at least one level)."""
  sizes = []
  while size >= MIN_RESOLUTION or not sizes:
    sizes.append(size)
    size //= 2
  return sizes


def patch_positions(shape, count, rng, per_image=NEIGHBOURHOODS_PER_IMAGE, size=NEIGHBOURHOOD_SIZE):
  """Random size x size patch centres in count images of shape (H, W): (ys, xs), image-major."""
  height, width = shape
  half = size // 2
  if height < size or width < size:
    raise ValueError(f"SWD needs images of at least {size}x{size}, got {height}x{width}.")
  return (rng.integers(half, height - half, size=count * per_image),
          rng.integers(half, width - half, size=count * per_image))


def patches(level, ys, xs, size=NEIGHBOURHOOD_SIZE):
  """[n, H, W, C] -> [n * k, size, size, C], the k neighbourhoods per image at (ys, xs)."""
  image = np.repeat(np.arange(len(level)), len(ys) // len(level))
  offsets = np.arange(-(size // 2), size // 2 + 1)
  return level[image[:, None, None], ys[:, None, None] + offsets[None, :, None],
               xs[:, None, None] + offsets[None, None, :]]


def normalize(raw):
  """[M, size, size, C] normalized per channel in place -> descriptors [M, size * size * C]."""
  raw -= raw.mean(axis=(0, 1, 2), keepdims=True)
  raw /= np.maximum(raw.std(axis=(0, 1, 2), keepdims=True), 1e-8)
  return raw.reshape(len(raw), -1)


def random_directions(dimension, rng, repeats=DIRECTION_REPEATS, per_repeat=DIRECTIONS_PER_REPEAT):
  """repeats arrays of per_repeat unit vectors in R^dimension: [repeats, dimension, per_repeat]."""
  directions = rng.standard_normal((repeats, dimension, per_repeat))
  return (directions / np.linalg.norm(directions, axis=1, keepdims=True)).astype(np.float32)


def sliced_wasserstein(left, right, directions):
  """Mean |sorted(left . d) - sorted(right . d)| of [M, D] sets, averaged over repeats."""
  if left.shape != right.shape:
    raise ValueError(f"SWD compares equal-sized descriptor sets, got {left.shape} and "
                     f"{right.shape}.")
  # [directions, M], so that each sort runs over contiguous memory.
  left_t, right_t = np.ascontiguousarray(left.T), np.ascontiguousarray(right.T)
  distances = []
  for repeat in directions:
    total = 0.0
    # 32 directions at a time keep 10,000 images' 1.28M projections to ~160 MB.
    for start in range(0, repeat.shape[1], 32):
      chunk = np.ascontiguousarray(repeat[:, start:start + 32].T)
      left_projections, right_projections = chunk @ left_t, chunk @ right_t
      left_projections.sort(axis=1)
      right_projections.sort(axis=1)
      total += float(np.abs(left_projections - right_projections).sum(dtype=np.float64))
    distances.append(total / (len(left) * repeat.shape[1]))
  return float(np.mean(distances))


def pyramid_descriptors(images, rng, count=None):
  """{level size: [count * 128, 49 C]} of [N, H, W, C] images, or batches giving the same."""
  if count is None:
    if not isinstance(images, np.ndarray):
      raise ValueError("SWD descriptors of streamed batches need their image count.")
    count = len(images)
  positions, raw, filled = None, None, 0
  for batch in image_sets.as_batches(images):
    batch = batch[:count - filled]
    sizes = resolutions(batch.shape[1])
    levels = laplacian_pyramid(batch, len(sizes))
    if raw is None:
      positions = [patch_positions(level.shape[1:3], count, rng) for level in levels]
      raw = [np.empty((count * NEIGHBOURHOODS_PER_IMAGE, NEIGHBOURHOOD_SIZE,
                       NEIGHBOURHOOD_SIZE, level.shape[3]), np.float32) for level in levels]
    rows = slice(filled * NEIGHBOURHOODS_PER_IMAGE,
                 (filled + len(batch)) * NEIGHBOURHOODS_PER_IMAGE)
    for level, (ys, xs), level_raw in zip(levels, positions, raw):
      level_raw[rows] = patches(level, ys[rows], xs[rows])
    filled += len(batch)
    if filled == count:
      break
  if filled < count:
    raise ValueError(f"SWD expected {count} images, got {filled}.")
  return {size: normalize(level_raw) for size, level_raw in zip(sizes, raw)}


def swd_between(descriptors1, descriptors2, seed=0):
  """SWD x1e3 per level and averaged; the directions depend only on the seed and level."""
  results = {}
  for index, (size, left) in enumerate(descriptors1.items()):
    directions = random_directions(left.shape[1], np.random.default_rng([seed, 2, index]))
    results[f"swd_x1e3_{size}"] = 1e3 * sliced_wasserstein(left, descriptors2[size], directions)
  results["swd_x1e3_avg"] = float(np.mean(list(results.values())))
  return results


def swd(subject, options):
  """Samples vs held-out images and the real baseline; 75 KB per colour image and level held."""
  real = image_sets.held_out_examples_of_at_least(
      options, "swd", NEIGHBOURHOOD_SIZE, f"its {NEIGHBOURHOOD_SIZE}x{NEIGHBOURHOOD_SIZE} "
      f"neighbourhoods need images of at least that size")
  count = len(real)
  real_descriptors = pyramid_descriptors(image_sets.real_batches_on_255_scale(
      real, options.batch_size), np.random.default_rng([options.seed, 0]), count)
  results = swd_between(real_descriptors, pyramid_descriptors(
      image_sets.on_255_scale(image_sets.generated_batches(subject, options, "swd")),
      np.random.default_rng([options.seed, 1]), count), options.seed)
  baseline, description, _ = image_sets.baseline_examples(options, count)
  if baseline is not None and len(baseline) == count:
    baseline_descriptors = pyramid_descriptors(image_sets.real_batches_on_255_scale(
        baseline, options.batch_size), np.random.default_rng([options.seed, 3]), count)
    for key, value in swd_between(real_descriptors, baseline_descriptors, options.seed).items():
      results[f"{key}_real_baseline"] = value
  results.update(num_samples=count, num_real=count, baseline_set=description,
                 feature_extractor=(f"Laplacian pyramid {resolutions(real.shape[1])}, "
                                    f"{NEIGHBOURHOODS_PER_IMAGE} 7x7 patches per image per level, "
                                    f"{DIRECTION_REPEATS}x{DIRECTIONS_PER_REPEAT} directions"))
  return results

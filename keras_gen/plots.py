"""Point-cloud pictures of 2-D samples, drawn with TensorFlow alone (no matplotlib): one cloud,
or a row of them over training as in Metz et al. 2017 ("Unrolled GANs", fig. 2)."""

import glob
import os
import re

import numpy as np
import tensorflow as tf

from keras_gen import storage

# Colours, RGB in [0, 1]: generated samples blue, reference (real) points red.
SAMPLE_COLOUR = (0.12, 0.27, 0.75)
REFERENCE_COLOUR = (0.85, 0.1, 0.1)


def _density(points, extent, size):
  """Counts of points per pixel: float32 [size, size]; y grows upwards, points outside dropped."""
  points = tf.cast(points, tf.float32)
  column = tf.cast(tf.floor((points[:, 0] + extent) / (2.0 * extent) * size), tf.int32)
  row = tf.cast(tf.floor((extent - points[:, 1]) / (2.0 * extent) * size), tf.int32)
  inside = (column >= 0) & (column < size) & (row >= 0) & (row < size)
  index = tf.boolean_mask(row * size + column, inside)
  counts = tf.math.unsorted_segment_sum(tf.ones_like(index, tf.float32), index, size * size)
  return tf.reshape(counts, [size, size])


def _dilate(mask, radius):
  """Grows each marked pixel into a (2 radius + 1)^2 square, so single points are visible."""
  return tf.nn.max_pool2d(mask[None, :, :, None], 2 * radius + 1, 1, "SAME")[0, :, :, 0]


def point_cloud_image(samples, reference, size=256, extent=None):
  """Samples float [N, 2] in blue (darker where denser) under reference float [M, 2] (real
  points or the mixture's modes) in red, over [-extent, extent]^2 (default 1.5 max |reference|):
  float32 [1, size, size, 3] in [-1, 1], white background."""
  reference = tf.cast(reference, tf.float32)
  if extent is None:
    extent = tf.maximum(1.5 * tf.reduce_max(tf.abs(reference)), 1.0)
  extent = tf.cast(extent, tf.float32)
  # Saturates smoothly: one sample gives a light blue pixel, ten a full one.
  sample_alpha = 1.0 - tf.exp(-_dilate(_density(samples, extent, size), 1) / 3.0)
  reference_alpha = tf.minimum(_dilate(_density(reference, extent, size), 1), 1.0)
  image = tf.ones([size, size, 3])
  for alpha, colour in ((sample_alpha, SAMPLE_COLOUR), (reference_alpha, REFERENCE_COLOUR)):
    alpha = alpha[:, :, None]
    image = image * (1.0 - alpha) + alpha * tf.constant(colour, tf.float32)
  return image[None] * 2.0 - 1.0


def training_row(model_dir, tag="points", panels=6, gap=4):
  """Writes model_dir/samples/<tag>_over_training.png: up to `panels` of the clouds the engine
  saved (samples/<tag>_stepN.png), evenly over training and always the last, each labelled
  with its step. Returns (the path, the steps shown), or (None, []) if there are no PNGs."""
  matches = [re.search(r"_step(\d+)\.png$", path)
             for path in glob.glob(os.path.join(model_dir, "samples", f"{tag}_step*.png"))]
  found = {int(match.group(1)): match.string for match in matches if match}
  if not found:
    return None, []
  chosen = chosen_steps(sorted(found), panels)
  images = [tf.io.decode_png(tf.io.read_file(found[step]), channels=3).numpy()
            for step in chosen]
  path = os.path.join(model_dir, "samples", f"{tag}_over_training.png")
  storage.write_atomically(path, tf.io.encode_png(labelled_row(images, chosen, gap)).numpy())
  return path, chosen


def chosen_steps(steps, panels):
  """Up to `panels` of the sorted `steps`, evenly spread, the first and the last among them."""
  count = min(panels, len(steps))
  return sorted({steps[round(i * (len(steps) - 1) / max(count - 1, 1))] for i in range(count)})


def labelled_row(images, steps, gap=4, label_height=24):
  """uint8 [H, W, 3] panels side by side, grey gaps between, "step N" written under each."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  font = ImageFont.load_default(size=16)
  height = max(image.shape[0] for image in images)
  row = []
  for image, step in zip(images, steps):
    label = Image.new("RGB", (image.shape[1], label_height), "white")
    ImageDraw.Draw(label).text((image.shape[1] / 2, label_height / 2), f"step {step:,}",
                               fill="black", font=font, anchor="mm")
    panel = np.pad(image, [(0, height - image.shape[0]), (0, 0), (0, 0)], constant_values=255)
    row += [np.concatenate([panel, np.asarray(label)]),
            np.full([height + label_height, gap, 3], 128, np.uint8)]
  return np.concatenate(row[:-1], axis=1)

"""Arranging images into one picture: tables of cells separated by thin gaps."""

import numpy as np

from keras_gen import data

GAP = 2           # Pixels between cells.
GAP_VALUE = 255   # White, so cells with black backgrounds stay apart.
ERROR_GAIN = 4.0  # Error maps are brightened so that typical errors (a few %) are visible.


def to_uint8(images):
  """Float images in [-1, 1] -> uint8 numpy [0, 255]."""
  return data.to_uint8(np.asarray(images, np.float32)).numpy()


def table(cells, gap=GAP, column_gaps=None):
  """Tiles cells [R, C, H, W, ch] in [-1, 1] into one uint8 picture; column_gaps: {column:
  extra pixels before it}."""
  cells = to_uint8(cells)
  rows, columns, height, width, channels = cells.shape
  starts, x = [], 0
  for column in range(columns):
    x += (column_gaps or {}).get(column, 0) + (gap if column else 0)
    starts.append(x)
    x += width
  canvas = np.full([rows * height + (rows - 1) * gap, x, channels], GAP_VALUE, np.uint8)
  for row, column in np.ndindex(rows, columns):
    top = row * (height + gap)
    canvas[top:top + height, starts[column]:starts[column] + width] = cells[row, column]
  return canvas


def grid(images, rows, columns, gap=GAP):
  """images [rows * columns, H, W, ch] in [-1, 1], row by row -> uint8 [rows*H + gaps, ...]."""
  return table(np.reshape(images, [rows, columns, *np.shape(images)[1:]]), gap)


def error_maps(images, reconstructions):
  """[N, H, W, C] in [-1, 1]: ERROR_GAIN |x - r| / 2, clipped to 1, averaged over channels."""
  error = np.minimum(ERROR_GAIN * np.abs(np.subtract(reconstructions, images)) / 2.0, 1.0)
  error = np.repeat(error.mean(axis=-1, keepdims=True), np.shape(images)[-1], axis=-1)
  return error * 2.0 - 1.0


def stacked(pictures, gap=4 * GAP):
  """uint8 pictures [H_i, W, ch] of one width -> one column with `gap` white rows between."""
  separator = np.full([gap, *pictures[0].shape[1:]], GAP_VALUE, np.uint8)
  parts = [part for picture in pictures for part in (picture, separator)]
  return np.concatenate(parts[:-1], axis=0)


def side_by_side(pictures, gap=4 * GAP):
  """uint8 pictures [H_i, W_i, ch] -> one row, top-aligned, with `gap` white pixels between."""
  height = max(picture.shape[0] for picture in pictures)
  separator = np.full([height, gap, pictures[0].shape[-1]], GAP_VALUE, np.uint8)
  parts = []
  for picture in pictures:
    parts += [np.pad(picture, [(0, height - picture.shape[0]), (0, 0), (0, 0)],
                     constant_values=GAP_VALUE), separator]
  return np.concatenate(parts[:-1], axis=1)

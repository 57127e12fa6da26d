"""Tests for keras_gen.plots: point clouds drawn where the points are."""

import numpy as np
import tensorflow as tf

from keras_gen import plots
from keras_gen.engine import summaries


def test_point_cloud_image_colours_the_pixels_of_samples_and_reference_points():
  samples = tf.constant([[1.0, 1.0]] * 20)
  reference = tf.constant([[-1.0, -1.0], [2.0, 0.0]])
  image = plots.point_cloud_image(samples, reference, size=64, extent=2.0).numpy()
  assert image.shape == (1, 64, 64, 3) and image.min() >= -1.0 and image.max() <= 1.0
  pixels = (image[0] + 1.0) / 2.0
  # (1, 1) is at column 48, row 16 (y grows upwards); blue dominates there.
  np.testing.assert_allclose(pixels[16, 48], plots.SAMPLE_COLOUR, atol=0.05)
  np.testing.assert_allclose(pixels[48, 16], plots.REFERENCE_COLOUR, atol=1e-6)
  np.testing.assert_allclose(pixels[5, 5], [1.0, 1.0, 1.0])


def test_training_row_puts_the_saved_clouds_side_by_side(tmp_path):
  for step in (10, 20, 30):
    image = plots.point_cloud_image(tf.zeros([1, 2]), tf.ones([1, 2]), size=32)
    summaries.write_png(str(tmp_path / "samples" / f"points_step{step:07d}.png"),
                        summaries.image_grid(image.numpy()))
  path, steps = plots.training_row(str(tmp_path), panels=6, gap=4)
  assert steps == [10, 20, 30]
  row = tf.io.decode_png(tf.io.read_file(path)).numpy()
  assert row.shape == (32 + 24, 3 * 32 + 2 * 4, 3)  # A 24-pixel label strip under the panels.
  np.testing.assert_array_equal(row[:32, :32], summaries.image_grid(image.numpy())[0])
  assert (row[:, 32:36] == 128).all()  # The grey gap.
  for panel in range(3):
    label = row[32:, panel * 36:panel * 36 + 32]
    assert (label < 128).any() and (label == 255).mean() > 0.5  # Dark text on white.


def test_the_chosen_steps_spread_evenly_and_keep_the_first_and_last():
  assert plots.chosen_steps(list(range(2000, 16001, 2000)), 6) == [
      2000, 4000, 8000, 10000, 14000, 16000]
  assert plots.chosen_steps([5, 7], 6) == [5, 7]


def test_each_panel_is_labelled_with_its_own_step():
  blank = np.full([40, 60, 3], 255, np.uint8)
  one, other = plots.labelled_row([blank], [2000]), plots.labelled_row([blank], [16000])
  assert one.shape == other.shape == (40 + 24, 60, 3)
  assert (one[:40] == 255).all() and not np.array_equal(one[40:], other[40:])

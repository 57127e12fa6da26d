"""Image grids and the progress line."""

import numpy as np

from keras_gen.engine import summaries


def test_image_grid_tiles_images_row_by_row_and_maps_minus_one_to_zero():
  images = np.stack([np.full([2, 3, 1], value) for value in (-1.0, 0.0, 1.0)])
  grid = summaries.image_grid(images)
  assert grid.shape == (1, 4, 6, 1) and grid.dtype == np.uint8
  assert grid[0, 0, 0, 0] == 0 and grid[0, 0, 3, 0] == 128 and grid[0, 2, 0, 0] == 255
  assert grid[0, 2, 3, 0] == 0  # The unused fourth tile stays black.


def test_progress_line_shows_step_losses_speed_and_eta():
  progress = summaries.Progress(total_steps=100, global_batch_size=10, start_step=0)
  line = progress.line(50, {"g_loss": 1.5, "d_loss": 0.25}, images_per_sec=200.0,
                       step_time=0.05)
  assert line == ("step 50/100  d_loss 0.2500  g_loss 1.5000  200.0 img/s  50.0 ms/step  "
                  "ETA 0:00:03")


def test_progress_measures_nothing_when_no_step_ran():
  progress = summaries.Progress(total_steps=10, global_batch_size=4, start_step=3)
  assert progress.measure(3) == (None, None)
  assert progress.line(3, {"loss": 1.0}, None, None) == "step 3/10  loss 1.0000"

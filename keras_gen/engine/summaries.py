"""TensorBoard summaries (scalars, images, the HParams dashboard), sample-grid PNGs and the
terminal progress line."""

import math
import os
import resource
import time

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from keras_gen import data
from keras_gen import storage


def image_grid(images):
  """Tiles [N, H, W, C] images in [-1, 1] into one [1, rows*H, cols*W, C] uint8 image."""
  images = np.asarray(images, np.float32)
  count, height, width, channels = images.shape
  columns = int(math.ceil(math.sqrt(count)))
  rows = int(math.ceil(count / columns))
  canvas = np.zeros([rows * height, columns * width, channels], np.uint8)
  for index, image in enumerate(data.to_uint8(images).numpy()):
    row, column = divmod(index, columns)
    canvas[row * height:(row + 1) * height, column * width:(column + 1) * width] = image
  return canvas[None]


def write_png(path, grid):
  """Writes a [1, H, W, C] uint8 grid as a PNG, via a temporary name."""
  storage.write_atomically(path, tf.io.encode_png(grid[0]).numpy())


# TrainConfig fields on the HParams dashboard beside the model's hyperparameters.
HPARAMS_FIELDS = ("model", "dataset", "batch_size", "train_steps", "seed", "mixed_precision",
                  "xla", "resolution")


def hparams_of(config):
  """{name: bool | int | float | str} of HPARAMS_FIELDS and the hyperparameters (others as text)."""
  values = {**{name: getattr(config, name) for name in HPARAMS_FIELDS}, **config.hparams}
  return {name: value if isinstance(value, (bool, int, float, str)) else str(value)
          for name, value in sorted(values.items())}


class Summaries:
  """Scalars and image grids under model_dir/train, PNGs under model_dir/samples, and the
  HParams dashboard."""

  def __init__(self, model_dir, enabled=True):
    self.model_dir, self.enabled = model_dir, enabled
    self.writer = (tf.summary.create_file_writer(os.path.join(model_dir, "train"))
                   if enabled else tf.summary.create_noop_writer())
    self._hparams, self._loss_tags, self._declared = {}, set(), False

  def hparams(self, config):
    self._hparams = hparams_of(config)
    with self.writer.as_default():
      hp.hparams(self._hparams, trial_id=os.path.basename(os.path.normpath(self.model_dir)))
    self.writer.flush()

  def metrics(self, values, step):
    """Logs metrics/* scalars; the first call declares them and the losses as HParams columns."""
    self.scalars({f"metrics/{key}": value for key, value in values.items()}, step)
    if self._declared or not values:
      return
    self._declared = True
    # Sample counts (num_samples, ...) are settings, not columns worth comparing.
    tags = sorted(f"metrics/{key}" for key in values
                  if not key.rsplit("/", 1)[-1].startswith("num_")) + sorted(self._loss_tags)
    with self.writer.as_default():
      hp.hparams_config(hparams=[hp.HParam(name) for name in self._hparams],
                        metrics=[hp.Metric(tag, display_name=tag.split("/", 1)[1])
                                 for tag in tags])
    self.writer.flush()

  def text(self, tag, text, step):
    with self.writer.as_default(step=step):
      tf.summary.text(tag, text)
    self.writer.flush()

  def scalars(self, values, step):
    self._loss_tags.update(tag for tag in values if tag.startswith("loss/"))
    with self.writer.as_default(step=step):
      for tag, value in values.items():
        tf.summary.scalar(tag, float(value))

  def images(self, named_images, step):
    """Logs each [N, H, W, C] batch in [-1, 1] as one grid and saves it as a PNG."""
    if not self.enabled:
      return
    with self.writer.as_default(step=step):
      for tag, images in named_images.items():
        grid = image_grid(images)
        tf.summary.image(tag, grid, step=step)
        write_png(os.path.join(self.model_dir, "samples", f"{tag}_step{step:07d}.png"), grid)
    self.writer.flush()

  def close(self):
    self.writer.flush()
    self.writer.close()


class Progress:
  """Throughput between log points, and one line per point."""

  def __init__(self, total_steps, global_batch_size, start_step):
    self.total_steps, self.global_batch_size = total_steps, global_batch_size
    self.reset_clock(start_step)

  def reset_clock(self, step):
    self._last_step = step
    self._last_time = time.perf_counter()

  def measure(self, step):
    """(images/s, seconds per step) since the last call; (None, None) if no step ran."""
    now = time.perf_counter()
    steps, elapsed = step - self._last_step, now - self._last_time
    self._last_step, self._last_time = step, now
    if steps <= 0:
      return None, None
    return steps * self.global_batch_size / elapsed, elapsed / steps

  def line(self, step, losses, images_per_sec, step_time, position=""):
    """`step S/T  [position]  losses  [speed  ETA]`."""
    parts = [f"step {step}/{self.total_steps}", position,
             "  ".join(f"{name} {float(value):.4f}" for name, value in sorted(losses.items()))]
    if step_time is not None:
      eta = math.ceil((self.total_steps - step) * step_time)  # Rounds up: 2.5 s is "0:00:03".
      parts += [f"{images_per_sec:.1f} img/s", f"{step_time * 1000:.1f} ms/step",
                f"ETA {eta // 3600}:{eta % 3600 // 60:02d}:{eta % 60:02d}"]
    return "  ".join(part for part in parts if part)


def peak_resident_mb():
  """This process's peak resident memory so far, in MB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

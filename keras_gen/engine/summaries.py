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


def image_grid(images, columns=None):
  """Tiles [N, H, W, C] images in [-1, 1] into one [1, rows*H, cols*W, C] uint8 image."""
  images = np.asarray(images, np.float32)
  count, height, width, channels = images.shape
  columns = columns or int(math.ceil(math.sqrt(count)))
  rows = int(math.ceil(count / columns))
  canvas = np.zeros([rows * height, columns * width, channels], np.uint8)
  pixels = data.to_uint8(images).numpy()
  for index in range(count):
    row, column = divmod(index, columns)
    canvas[row * height:(row + 1) * height, column * width:(column + 1) * width] = pixels[index]
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
    self.model_dir = model_dir
    self.enabled = enabled
    self.writer = (tf.summary.create_file_writer(os.path.join(model_dir, "train"))
                   if enabled else tf.summary.create_noop_writer())
    self._hparams = {}
    self._loss_tags = set()
    self._declared = False

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


def _format_duration(seconds):
  seconds = int(math.ceil(seconds))  # An ETA rounds up: 2.5 s left is "0:00:03".
  return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
  """Throughput between log points, and one line per point."""

  def __init__(self, total_steps, global_batch_size, start_step):
    self.total_steps = total_steps
    self.global_batch_size = global_batch_size
    self._last_step = start_step
    self._last_time = time.perf_counter()

  def reset_clock(self, step):
    self._last_step = step
    self._last_time = time.perf_counter()

  def measure(self, step):
    """(images/s, seconds per step) since the last call; (None, None) if no step ran."""
    now = time.perf_counter()
    steps = step - self._last_step
    elapsed = now - self._last_time
    self._last_step, self._last_time = step, now
    if steps <= 0:
      return None, None
    return steps * self.global_batch_size / elapsed, elapsed / steps

  def line(self, step, losses, images_per_sec, step_time, position=""):
    """`step S/T  [position]  losses  [speed  ETA]`."""
    parts = [f"step {step}/{self.total_steps}", position,
             "  ".join(f"{name} {float(value):.4f}" for name, value in sorted(losses.items()))]
    if step_time is not None:
      eta = (self.total_steps - step) * step_time
      parts += [f"{images_per_sec:.1f} img/s", f"{step_time * 1000:.1f} ms/step",
                f"ETA {_format_duration(eta)}"]
    return "  ".join(part for part in parts if part)


def peak_resident_mb():
  """This process's peak resident memory so far, in MB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

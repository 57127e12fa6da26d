"""Plots a logged metric against wall time or step, one line per run, as a PNG.

  python tools/plot_curves.py --runs=runs/dcgan_long --tag=metrics/fcd/fcd \\
      --floor=0.383 --output=docs/curves/dcgan_fashion_mnist_long_fcd.png
  python tools/plot_curves.py --runs="growing=runs/progan,no growing=runs/progan32" \\
      --tag=metrics/swd/swd_x1e3_avg --x=step --output=swd.png

Reads the scalars a training run logs to TensorBoard (`MODEL_DIR/train`, the
`metrics/*` tags that `--metrics` writes at every checkpoint). Wall time is
minutes since the run's first event, so a figure reads as "quality after N
minutes of training"; a run resumed later shows the gap it was stopped for.
Drawn with Pillow (installed with TensorBoard), so no plotting library is
needed.
"""

import glob
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402

flags.DEFINE_list("runs", [], "Run folders (model_dir), each optionally 'label=PATH'.")
flags.DEFINE_string("tag", "metrics/fcd/fcd", "The scalar to plot.")
flags.DEFINE_enum("x", "minutes", ["minutes", "step"], "Horizontal axis.")
flags.DEFINE_float("floor", None, "Draw a dashed line at this value (e.g. a real-vs-real baseline).")
flags.DEFINE_string("floor_label", "real-vs-real", "Label of the --floor line.")
flags.DEFINE_boolean("log_y", False, "Logarithmic vertical axis.")
flags.DEFINE_string("title", "", "Title (default: the tag).")
flags.DEFINE_string("output", "", "The PNG to write.")
FLAGS = flags.FLAGS

WIDTH, HEIGHT = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 30, 50, 60
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (140, 86, 75))


def read_scalars(model_dir, tag):
  """[(step, minutes since the run's first event, value)] of `tag`, by step.

  Raises ValueError naming the folder when it holds no event file or no such tag.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  paths = sorted(glob.glob(os.path.join(model_dir, "**", "events.out.tfevents.*"),
                           recursive=True))
  if not paths:
    raise ValueError(f"{model_dir} holds no TensorBoard event files.")
  first_time, points = math.inf, {}
  for path in paths:
    for event in tf.compat.v1.train.summary_iterator(path):
      first_time = min(first_time, event.wall_time)
      for value in event.summary.value:
        if value.tag == tag:
          number = (float(tf.make_ndarray(value.tensor)) if value.HasField("tensor")
                    else value.simple_value)
          points[event.step] = (event.wall_time, number)
  if not points:
    raise ValueError(f"{model_dir} logged no scalar {tag!r}.")
  return [(step, (wall - first_time) / 60.0, value)
          for step, (wall, value) in sorted(points.items())]


def _ticks(low, high, count=6):
  """Round tick values covering [low, high]."""
  if high <= low:
    high = low + 1.0
  raw = (high - low) / count
  magnitude = 10 ** math.floor(math.log10(raw))
  step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw))
  start = math.floor(low / step) * step
  return [start + i * step for i in range(int(math.ceil((high - start) / step)) + 1)]


def _log_ticks(low, high):
  return [10.0 ** e * m for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
          for m in (1, 2, 5) if low <= 10.0 ** e * m <= high] or [low, high]


def _label(value):
  return f"{value:g}" if abs(value) >= 0.01 or value == 0 else f"{value:.1e}"


def draw(curves, x_name, title, floor=None, floor_label="", log_y=False):
  """curves: {label: [(x, y)]} -> a PIL image of the lines with axes, ticks and a legend."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  font = ImageFont.load_default(size=14)
  xs = [x for points in curves.values() for x, _ in points]
  ys = [y for points in curves.values() for _, y in points] + ([floor] if floor else [])
  if log_y:
    ys = [y for y in ys if y > 0]
  x_ticks = _ticks(0.0 if x_name == "minutes" else min(xs), max(xs))
  y_low, y_high = min(ys), max(ys)
  if log_y:  # Room below the lowest point, so a floor line is not drawn on the frame.
    y_low, y_high = y_low / 1.25, y_high * 1.1
  y_ticks = _log_ticks(y_low, y_high) if log_y else _ticks(min(0.0, y_low), y_high)
  y_low, y_high = (y_low, y_high) if log_y else (y_ticks[0], y_ticks[-1])
  x_low, x_high = x_ticks[0], x_ticks[-1]
  transform = (lambda y: math.log10(y)) if log_y else (lambda y: y)

  def to_pixel(x, y):
    u = LEFT + (x - x_low) / (x_high - x_low) * (WIDTH - LEFT - RIGHT)
    span = transform(y_high) - transform(y_low) or 1.0
    v = HEIGHT - BOTTOM - (transform(y) - transform(y_low)) / span * (HEIGHT - TOP - BOTTOM)
    return u, v

  image = Image.new("RGB", (WIDTH, HEIGHT), "white")
  canvas = ImageDraw.Draw(image)
  for x in x_ticks:
    u, _ = to_pixel(x, y_low)
    canvas.line([(u, TOP), (u, HEIGHT - BOTTOM)], fill=(230, 230, 230))
    canvas.text((u, HEIGHT - BOTTOM + 6), _label(x), fill="black", font=font, anchor="ma")
  for y in y_ticks:
    _, v = to_pixel(x_low, y)
    canvas.line([(LEFT, v), (WIDTH - RIGHT, v)], fill=(230, 230, 230))
    canvas.text((LEFT - 6, v), _label(y), fill="black", font=font, anchor="rm")
  canvas.rectangle([LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM], outline="black")
  axis = "minutes of training" if x_name == "minutes" else "step"
  canvas.text(((LEFT + WIDTH - RIGHT) / 2, HEIGHT - 22), axis, fill="black", font=font,
              anchor="ma")
  canvas.text((LEFT, 18), title, fill="black", font=font)
  if floor is not None:
    _, v = to_pixel(x_low, floor)
    for u in range(LEFT, WIDTH - RIGHT, 12):
      canvas.line([(u, v), (min(u + 6, WIDTH - RIGHT), v)], fill=(90, 90, 90), width=2)
    canvas.text((WIDTH - RIGHT - 4, v - 4), f"{floor_label} {_label(floor)}", fill=(90, 90, 90),
                font=font, anchor="rd")
  for index, (label, points) in enumerate(curves.items()):
    colour = COLOURS[index % len(COLOURS)]
    pixels = [to_pixel(x, y) for x, y in points if not log_y or y > 0]
    if len(pixels) > 1:
      canvas.line(pixels, fill=colour, width=3)
    for u, v in pixels:
      canvas.ellipse([u - 4, v - 4, u + 4, v + 4], fill=colour)
    legend_v = TOP + 12 + 20 * index
    canvas.line([(WIDTH - RIGHT - 200, legend_v), (WIDTH - RIGHT - 170, legend_v)], fill=colour,
                width=3)
    final = points[-1][1]
    canvas.text((WIDTH - RIGHT - 164, legend_v), f"{label} (last {_label(final)})", fill="black",
                font=font, anchor="lm")
  return image


def _parse_runs(entries):
  runs = {}
  for entry in entries:
    label, sep, path = entry.partition("=")
    runs[label if sep else os.path.basename(os.path.normpath(entry))] = path if sep else entry
  return runs


def main(argv):
  cli.reject_positional_arguments(argv)
  if not FLAGS.runs or not FLAGS.output:
    cli.usage_error("--runs and --output are required.")
  cli.quiet_tensorflow()
  curves = {}
  for label, path in _parse_runs(FLAGS.runs).items():
    try:
      points = read_scalars(path, FLAGS.tag)
    except ValueError as e:
      cli.usage_error(str(e))
    curves[label] = [(minutes if FLAGS.x == "minutes" else step, value)
                     for step, minutes, value in points]
  image = draw(curves, FLAGS.x, FLAGS.title or FLAGS.tag, FLAGS.floor, FLAGS.floor_label,
               FLAGS.log_y)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  image.save(FLAGS.output)
  for label, points in curves.items():
    print(f"{label}: " + ", ".join(f"{x:.3g} -> {y:.4g}" for x, y in points))
  print(f"Wrote {FLAGS.output}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags_or_exit)

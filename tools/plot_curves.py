"""Plots a logged metric against wall time or step, one line per run, as a PNG.

  python tools/plot_curves.py --runs=runs/dcgan_long --tag=metrics/fcd/fcd \\
      --floor=0.383 --output=docs/curves/dcgan_fashion_mnist_long_fcd.png
  python tools/plot_curves.py --runs="growing=runs/progan,no growing=runs/progan32" \\
      --tag=metrics/swd/swd_x1e3_avg --x=step --output=swd.png
  python tools/plot_curves.py --runs=runs/progan --levels --output=swd_levels.png \\
      --tag=metrics/swd/swd_x1e3_avg,metrics/swd/swd_x1e3_16
  python tools/plot_curves.py --recipe=progan_emoji --output=docs/curves/progan_emoji_swd.png

Reads the scalars a training run logs to TensorBoard (`MODEL_DIR/train`, the
`metrics/*` tags that `--metrics` writes at every checkpoint). Wall time is
minutes since the run's first event, so a figure reads as "quality after N
minutes of training"; a run resumed later shows the gap it was stopped for.
A phased (Progressive GAN) run evaluates --metrics at every phase end, at the
level it has reached; `--levels` draws a dotted line where the first run grows
(its `progress/level` rises), labelled with the new resolution.
`--recipe=NAME` draws instead the per-snapshot figures that zoo/NAME.json's `measured`
block records, by step, titled with the block's machine and date, with its real-vs-real
floor where it records one.
Drawn with Pillow (installed with TensorBoard), so no plotting library is
needed.
"""

import glob
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402

flags.DEFINE_string("recipe", "", "Draw zoo/RECIPE.json's measured per-snapshot figures instead.")
flags.DEFINE_list("runs", [], "Run folders (model_dir), each optionally 'label=PATH'.")
flags.DEFINE_list("tag", ["metrics/fcd/fcd"], "The scalars to plot (one curve per run and tag).")
flags.DEFINE_enum("x", "minutes", ["minutes", "step"], "Horizontal axis.")
flags.DEFINE_float("floor", None, "Draw a dashed line at this value (e.g. a real-vs-real baseline).")
flags.DEFINE_string("floor_label", "real-vs-real", "Label of the --floor line.")
flags.DEFINE_boolean("log_y", False, "Logarithmic vertical axis.")
flags.DEFINE_boolean("levels", False, "Mark where the first run's level of detail rises.")
flags.DEFINE_string("title", "", "Title (default: the tag).")
flags.DEFINE_string("output", "", "The PNG to write.")
FLAGS = flags.FLAGS

WIDTH, HEIGHT = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 30, 50, 60
LINE_HEIGHT = 18
MARKER_COLOUR = (120, 120, 120)
FLOOR_COLOUR = (90, 90, 90)
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14),
           (140, 86, 75))


def _events(model_dir):
  """(the run's first wall time, [(step, wall time, tag, value proto)]) of every summary.

  Raises ValueError naming the folder when it holds no event file.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  paths = sorted(glob.glob(os.path.join(model_dir, "**", "events.out.tfevents.*"),
                           recursive=True))
  if not paths:
    raise ValueError(f"{model_dir} holds no TensorBoard event files.")
  first_time, values = math.inf, []
  for path in paths:
    for event in tf.compat.v1.train.summary_iterator(path):
      first_time = min(first_time, event.wall_time)
      values += [(event.step, event.wall_time, value.tag, value) for value in event.summary.value]
  return first_time, values


def _number(value):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value


def read_scalars(model_dir, tag):
  """[(step, minutes since the run's first event, value)] of `tag`, by step.

  Raises ValueError naming the folder when it holds no event file or no such tag.
  """
  first_time, values = _events(model_dir)
  points = {step: (wall, _number(value)) for step, wall, name, value in values if name == tag}
  if not points:
    raise ValueError(f"{model_dir} logged no scalar {tag!r}.")
  return [(step, (wall - first_time) / 60.0, value)
          for step, (wall, value) in sorted(points.items())]


def level_starts(model_dir):
  """[(step, minutes, side)] where a phased run's level rises: the last step logged below it
  (the end of the phase before; the loop logs at every phase end), the minutes of the last
  summary written at that step (the phase end's metrics come after its progress line), and
  the new side 2^level."""
  levels = read_scalars(model_dir, "progress/level")
  first_time, values = _events(model_dir)
  latest = {}
  for step, wall, _, _ in values:
    latest[step] = max(latest.get(step, wall), wall)
  return [(step, (latest[step] - first_time) / 60.0, 2 ** int(after))
          for (step, _, before), (_, _, after) in zip(levels, levels[1:]) if after > before]


ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo")
_STEP_IN_KEY = re.compile(r"\((?:step )?([\d,]+)\)")
_SAMPLES = re.compile(r"([\d,]+) (?:samples|emoji)")


def _step(key):
  """The step a measured key names: '4000', or '8x8 stable end (step 3,750)'; None otherwise."""
  if key.isdigit():
    return int(key)
  match = _STEP_IN_KEY.search(key)
  return int(match.group(1).replace(",", "")) if match else None


def _swd(text):
  """(value, real-vs-real baseline or None) of 'avg 22.7 (10.3): 64: 31.3, ...' or '8: 65.7'."""
  match = re.match(r"(?:avg|\d+):\s*([\d.]+)(?:\s*\(([\d.]+)\))?", text.replace("avg ", "avg: "))
  if not match:
    raise ValueError(f"unreadable SWD figure {text!r}.")
  return float(match.group(1)), float(match.group(2)) if match.group(2) else None


def recipe_curve(name, zoo=ZOO):
  """The curve zoo/NAME.json's measured block records: a dict of metric, points [(step,
  value)], phases [(step, label)], floor (None where the block records none), floor_label,
  title (recipe, metric, the block's machine and date).

  Raises ValueError naming the recipe when it has no measured per-snapshot figures.
  """
  path = os.path.join(zoo, f"{name}.json")
  if not os.path.exists(path):
    raise ValueError(f"No recipe {name!r}: {path} does not exist.")
  with open(path) as f:
    measured = json.load(f).get("measured") or {}
  evaluation = measured.get("evaluation") or {}
  phases, floor = [], None
  if "fcd_at_checkpoints" in evaluation:
    metric, table = "FCD", evaluation["fcd_at_checkpoints"]
    note = evaluation.get("fcd_at_checkpoints_note", "")
    points = [(_step(key), value) for key, value in table.items() if _step(key) is not None]
    floor = evaluation.get("fcd_real_baseline")
  elif "swd_at_snapshots" in measured or "swd_at_phase_ends" in measured:
    metric = "SWD x1e3 (average over levels)"
    table = measured.get("swd_at_snapshots") or measured["swd_at_phase_ends"]
    note, floor, points = table.get("note", ""), table.get("real_baseline"), []
    for key, value in table.items():
      if _step(key) is None:
        continue
      value, baseline = _swd(value) if isinstance(value, str) else (value, None)
      points.append((_step(key), value))
      if " end" in key:  # Phase ends, not the snapshots within a phase.
        phases.append((_step(key), key.split(" (")[0].replace(" transition", " fade-in")))
      floor = baseline if baseline is not None else floor  # The last point's baseline.
  else:
    raise ValueError(f"Recipe {name!r} records no per-snapshot figures in its measured block.")
  samples = _SAMPLES.search(note)
  floor_label = "real-vs-real" + (f" ({samples.group(1)} samples)" if samples else "")
  machine = measured.get("machine", {})
  title = (f"{name}: {metric} by step\n{machine.get('cpu', 'unknown CPU')}, "
           f"{machine.get('cores', '?')} cores ({' '.join(machine.get('cpu_flags', []))}), "
           f"{measured.get('date', 'undated')}")
  points.sort()
  return {"metric": metric, "points": points, "phases": sorted(phases), "floor": floor,
          "floor_label": floor_label, "title": title}


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


def draw(curves, x_name, title, floor=None, floor_label="", log_y=False, markers=()):
  """curves: {label: [(x, y)]} -> a PIL image of the lines with axes, ticks and a legend;
  markers: [(x, text)] drawn as dotted vertical lines."""
  return draw_labelled(curves, x_name, title, floor, floor_label, log_y, markers)[0]


def draw_labelled(curves, x_name, title, floor=None, floor_label="", log_y=False, markers=()):
  """draw()'s image and the texts drawn on it: {"title", "floor", "markers", "legend"}."""
  from PIL import Image, ImageDraw, ImageFont  # pylint: disable=g-import-not-at-top
  font = ImageFont.load_default(size=14)
  xs = [x for points in curves.values() for x, _ in points] + [x for x, _ in markers]
  ys = [y for points in curves.values() for _, y in points] + ([floor] if floor else [])
  if log_y:
    ys = [y for y in ys if y > 0]
  x_ticks = _ticks(0.0 if x_name == "minutes" else min(xs), max(xs))
  x_low, x_high = x_ticks[0], x_ticks[-1]
  # Each marker's label goes in the first row where it clears the labels already there.
  label_places, row_ends = [], []
  for x, text in sorted(markers):
    u = LEFT + (x - x_low) / (x_high - x_low) * (WIDTH - LEFT - RIGHT)
    width = font.getlength(text)
    right_aligned = u + 4 + width > WIDTH - RIGHT
    start, end = (u - 4 - width, u) if right_aligned else (u, u + 4 + width)
    row = next((r for r, row_end in enumerate(row_ends) if start > row_end + 6), len(row_ends))
    row_ends[row:row + 1] = [end]
    label_places.append((u - 4 if right_aligned else u + 4, TOP + 4 + LINE_HEIGHT * row, text,
                         "ra" if right_aligned else "la"))
  y_low, y_high = min(ys), max(ys)
  if row_ends and not log_y:  # Headroom, so the curves pass below the labels and legend.
    reserved = 12 + LINE_HEIGHT * len(row_ends) + 20 * len(curves)
    plot_height = HEIGHT - TOP - BOTTOM
    y_high = min(0.0, y_low) + (y_high - min(0.0, y_low)) * plot_height / (plot_height - reserved)
  if log_y:  # Room below the lowest point, so a floor line is not drawn on the frame.
    y_low, y_high = y_low / 1.25, y_high * 1.1
  y_ticks = _log_ticks(y_low, y_high) if log_y else _ticks(min(0.0, y_low), y_high)
  y_low, y_high = (y_low, y_high) if log_y else (y_ticks[0], y_ticks[-1])
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
  title_lines = title.split("\n")
  for row, line in enumerate(title_lines):
    canvas.text((LEFT, TOP - 8 - LINE_HEIGHT * (len(title_lines) - row)), line, fill="black",
                font=font)
  texts = {"title": title, "floor": None, "markers": [], "legend": []}
  for x, _ in markers:
    u, _ = to_pixel(x, y_low)
    for v in range(TOP, HEIGHT - BOTTOM, 8):
      canvas.line([(u, v), (u, min(v + 3, HEIGHT - BOTTOM))], fill=MARKER_COLOUR, width=2)

  def boxed_text(xy, text, fill, anchor):
    # A white box keeps a label readable where it crosses a line.
    canvas.rectangle(canvas.textbbox(xy, text, font=font, anchor=anchor), fill="white")
    canvas.text(xy, text, fill=fill, font=font, anchor=anchor)

  for u, v, text, anchor in label_places:
    boxed_text((u, v), text, MARKER_COLOUR, anchor)
    texts["markers"].append(text)
  if floor is not None:
    _, v = to_pixel(x_low, floor)
    for u in range(LEFT, WIDTH - RIGHT, 12):
      canvas.line([(u, v), (min(u + 6, WIDTH - RIGHT), v)], fill=FLOOR_COLOUR, width=2)
    texts["floor"] = f"{floor_label} {_label(floor)}"
    # At the left, where training curves start far above their floor.
    boxed_text((LEFT + 6, v - 4), texts["floor"], FLOOR_COLOUR, "ld")
  entries = [f"{label} (last {_label(points[-1][1])})" for label, points in curves.items()]
  texts["legend"] = entries
  for index, (label, points) in enumerate(curves.items()):
    colour = COLOURS[index % len(COLOURS)]
    pixels = [to_pixel(x, y) for x, y in points if not log_y or y > 0]
    if len(pixels) > 1:
      canvas.line(pixels, fill=colour, width=3)
    for u, v in pixels:
      canvas.ellipse([u - 4, v - 4, u + 4, v + 4], fill=colour)
    # The legend sits inside the plot's top right corner, as wide as its longest entry.
    legend_v = TOP + 12 + LINE_HEIGHT * len(row_ends) + 20 * index
    text_u = WIDTH - RIGHT - 8 - max(canvas.textlength(entry, font=font) for entry in entries)
    canvas.line([(text_u - 36, legend_v), (text_u - 6, legend_v)], fill=colour, width=3)
    canvas.text((text_u, legend_v), entries[index], fill="black", font=font, anchor="lm")
  return image, texts


def _parse_runs(entries):
  runs = {}
  for entry in entries:
    label, sep, path = entry.partition("=")
    runs[label if sep else os.path.basename(os.path.normpath(entry))] = path if sep else entry
  return runs


def main(argv):
  cli.reject_positional_arguments(argv)
  if FLAGS.recipe and FLAGS.output and not FLAGS.runs:
    try:
      curve = recipe_curve(FLAGS.recipe)
    except ValueError as e:
      cli.usage_error(str(e))
    image, _ = draw_labelled({curve["metric"]: curve["points"]}, "step", curve["title"],
                             curve["floor"], curve["floor_label"], FLAGS.log_y, curve["phases"])
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    image.save(FLAGS.output)
    print(f"{curve['metric']}: " + ", ".join(f"{x} -> {y:.4g}" for x, y in curve["points"]))
    print(f"Wrote {FLAGS.output}")
    return
  if not FLAGS.output or bool(FLAGS.runs) == bool(FLAGS.recipe):
    cli.usage_error("--output and one of --runs or --recipe are required.")
  cli.quiet_tensorflow()
  curves, runs, markers = {}, _parse_runs(FLAGS.runs), []
  try:
    for label, path in runs.items():
      for tag in FLAGS.tag:
        name = label if len(FLAGS.tag) == 1 else f"{label} {tag.rsplit('/', 1)[-1]}"
        curves[name] = [(minutes if FLAGS.x == "minutes" else step, value)
                        for step, minutes, value in read_scalars(path, tag)]
    if FLAGS.levels:
      markers = [(minutes if FLAGS.x == "minutes" else step, f"{side}x{side}")
                 for step, minutes, side in level_starts(next(iter(runs.values())))]
  except ValueError as e:
    cli.usage_error(str(e))
  image = draw(curves, FLAGS.x, FLAGS.title or ", ".join(FLAGS.tag), FLAGS.floor,
               FLAGS.floor_label, FLAGS.log_y, markers)
  os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
  image.save(FLAGS.output)
  for label, points in curves.items():
    print(f"{label}: " + ", ".join(f"{x:.3g} -> {y:.4g}" for x, y in points))
  print(f"Wrote {FLAGS.output}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags_or_exit)

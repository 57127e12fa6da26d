"""Writes the results table, the shipped models' table and the gallery from the zoo.

`python tools/results_table.py` rewrites, from the recipes' `measured` blocks
(zoo/*.json, zoo/*/*.json) and the shipped models' manifests
(zoo/pretrained/*/manifest.json), the text between these markers:

  README.md        <!-- results-table:start --> ... <!-- results-table:end -->
  README.md        <!-- pretrained-table:start --> ... <!-- pretrained-table:end -->
  docs/gallery.md  <!-- gallery:start --> ... <!-- gallery:end -->

`--check` writes nothing and exits 1 if any of them differs from what the
recipes give (CI runs it), so a figure changed in a recipe without regenerating
the tables, or a table edited by hand, fails.

What is read from `measured` (null means "not run yet"):
  figures    the first value found (depth first) for each known metric key, and
             `<key>_real_baseline` for the floor column; a string ending in .json
             under `results` or `results_file` is read as an evaluate results file.
  protocol   samples, split and seed: `--num_samples`, `--split`, `--seed` of the
             evaluation's `command` (evaluate's defaults 5,000, test, 0 where it
             gives none), else `num_samples`/`num_images`, `split`, `seed` beside
             the figures, else the recipe's `protocol` text.
  wall time  `wall_time_s`, `train_wall_time_seconds` or `wall_seconds`, else the
             figure that opens the `wall_time` text.
  machine    `machine` (text, or keras_gen.machine.describe()'s dict with
             `other_load_cores`), plus the float32 2048x2048 matmul GFLOP/s that
             `machine_note` records; shown as a key into a legend below the table.
  date       `date`.
  samples    `samples` or `sample_grid` (a PNG) for the gallery, `curve` beside it.
"""

import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402
from keras_gen import config as config_lib  # noqa: E402
from keras_gen import machine  # noqa: E402
from keras_gen import storage

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_MARKER = "<!-- results-table:start -->"
END_MARKER = "<!-- results-table:end -->"
PRETRAINED_MARKERS = ("<!-- pretrained-table:start -->", "<!-- pretrained-table:end -->")
GALLERY_MARKERS = ("<!-- gallery:start -->", "<!-- gallery:end -->")
# keras_gen.evaluate's defaults, which a command without the flag used.
DEFAULT_SAMPLES, DEFAULT_SPLIT, DEFAULT_SEED = 5000, "test", 0

# (keys that may hold the figure, label), in the order the table shows them.
FIGURES = (
    (("fid",), "FID"),
    (("fcd",), "FCD"),
    (("kid",), "KID"),
    (("inception_score",), "IS"),
    (("classifier_score",), "classifier score"),
    (("precision",), "precision"),
    (("recall",), "recall"),
    (("swd_x1e3_avg",), "SWD x1e3"),
    (("ms_ssim",), "MS-SSIM"),
    (("nll_nats",), "NLL (nats)"),
    (("test_mse", "mse"), "MSE"),
    (("test_psnr_db", "psnr_db"), "PSNR (dB)"),
    (("modes_covered_2500",), "modes (2,500)"),
    (("high_quality_fraction_2500",), "high quality (2,500)"),
    (("reverse_kl_2500",), "reverse KL (2,500)"),
    (("test_accuracy",), "test accuracy"),
)
# Sub-dicts that hold training-time losses or timings, not evaluation figures.
SKIPPED_KEYS = ("final_training_losses", "final_train_loss", "final_losses", "seconds", "config",
                "previous", "tried", "per_seed", "worst_seed", "avx2_run", "no_growing",
                "second_seed", "dcgan_comparison", "linear_probe")

flags.DEFINE_string("readme", os.path.join(REPO, "README.md"), "The README to update.")
flags.DEFINE_string("gallery", os.path.join(REPO, "docs", "gallery.md"), "The gallery page.")
flags.DEFINE_string("zoo", os.path.join(REPO, "zoo"), "The folder of recipes.")
flags.DEFINE_bool("check", False, "Only check that the tables are current (exit 1 if not).")
FLAGS = flags.FLAGS


def _find(tree, key):
  """The first number under `key` in a depth-first walk of nested dicts and lists, or None."""
  if isinstance(tree, list):
    return next((found for found in (_find(item, key) for item in tree) if found is not None),
                None)
  if not isinstance(tree, dict):
    return None
  if key in tree and isinstance(tree[key], (int, float)) and not isinstance(tree[key], bool):
    return tree[key]
  for name, value in tree.items():
    if name not in SKIPPED_KEYS:
      found = _find(value, key)
      if found is not None:
        return found
  return None


def _number(value):
  return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _with_results_files(measured, repo):
  """measured, plus the contents of any results JSON it names, under "results_files"."""
  loaded = []
  for key in ("results", "results_file"):
    path = measured.get(key)
    if isinstance(path, str) and path.endswith(".json"):
      with open(os.path.join(repo, path)) as f:
        loaded.append(json.load(f))
  return {**measured, "results_files": loaded} if loaded else measured


def figure_values(measured):
  """[(label, key, value, real-vs-real floor or None)] from a measured dict."""
  found = []
  for keys, label in FIGURES:
    for key in keys:
      value = _find(measured, key)
      if value is not None:
        found.append((label, key, value, _find(measured, f"{key}_real_baseline")))
        break
  return found


def figures(measured):
  """'FCD 41.23, SWD x1e3 12.5' from a measured dict."""
  return ", ".join(f"{label} {_number(value)}" for label, _, value, _ in figure_values(measured))


def floors(measured):
  """'FCD 0.383' for the figures that have a real-vs-real floor."""
  return ", ".join(f"{label} {_number(floor)}" for label, _, _, floor in figure_values(measured)
                   if floor is not None)


def _evaluation_command(measured):
  for key in ("evaluation", "results"):
    block = measured.get(key)
    if isinstance(block, dict) and isinstance(block.get("command"), str):
      return block["command"]
  return None


def protocol(measured):
  """'5,000 samples, test, seed 0': how the figures were measured."""
  command = _evaluation_command(measured)
  if command and "keras_gen.evaluate" in command:
    def flag(name, default):
      match = re.search(rf"--{name}=(\S+)", command)
      return match.group(1) if match else default
    samples = int(flag("num_samples", DEFAULT_SAMPLES))
    seed = _find(measured, "fcd_seed")
    seed = flag("seed", DEFAULT_SEED if seed is None else seed)
    return f"{samples:,} samples, {flag('split', DEFAULT_SPLIT)}, seed {seed}"
  seeds = measured.get("seeds")
  if isinstance(seeds, list) and "mean_over_seeds" in measured:
    return f"2,500 samples, mean of {len(seeds)} seeds"
  samples = _find(measured, "num_samples") or _find(measured, "num_images")
  if samples:
    split = _find_text(measured, "split") or DEFAULT_SPLIT
    seed = _find(measured, "seed")
    return f"{samples:,} examples, {split}" + (f", seed {seed}" if seed is not None else "")
  text = measured.get("protocol")
  if isinstance(text, str):
    return text.split(";")[0].split(". ")[0]
  return "see recipe"


def _find_text(tree, key):
  if isinstance(tree, dict):
    if isinstance(tree.get(key), str):
      return tree[key]
    for name, value in tree.items():
      if name not in SKIPPED_KEYS:
        found = _find_text(value, key)
        if found:
          return found
  return None


def _duration(seconds):
  hours, rest = divmod(int(round(seconds)), 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m{seconds:02d}s"
  return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def wall_time(measured):
  """'1h34m37s': the figure only (the recipe says what it includes)."""
  for key in ("wall_time_s", "train_wall_time_seconds", "wall_seconds"):
    seconds = _find(measured, key)
    if seconds is not None:
      return _duration(seconds)
  text = measured.get("wall_time")
  if isinstance(text, str):
    return re.split(r" \(|;|:| of | training", text)[0].strip()
  return ""


def machine_text(measured):
  """The machine in one line: CPU, flags, matmul rate where recorded, idle or shared."""
  described = measured.get("machine", "")
  note = measured.get("machine_note", "")
  if isinstance(described, dict):
    load = described.get("other_load_cores", measured.get("other_load_cores"))
    summary = machine.summary(described).replace(", Python ", "; Python ")
    text = f"{summary.split('; Python')[0]}, TensorFlow {described.get('tensorflow', '?')}"
    load_text = machine.load_note(load).split(" (")[0]
  else:
    text, load_text = str(described), ""
  match = re.search(r"float32 2048x2048 matmul (\d[\d-]*) GFLOP/s", str(note))
  if match:
    text += f"; float32 matmul {match.group(1)} GFLOP/s"
  return text + (f"; {load_text}" if load_text else "")


def _cell(text):
  return str(text).replace("|", "\\|").replace("\n", " ")


def load_recipes(zoo):
  """{name: recipe document with its "_path"} for zoo/*.json and zoo/*/*.json."""
  recipes = {}
  for path in sorted(glob.glob(os.path.join(zoo, "*.json"))
                     + glob.glob(os.path.join(zoo, "*", "*.json"))):
    with open(path) as f:
      try:
        document = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError(f"Recipe {path} is not valid JSON: {e}.") from e
    if "config" not in document and "measured" not in document:
      continue  # a manifest or other file, not a recipe
    document["_path"] = path
    recipes[os.path.basename(path)[:-5]] = document
  return recipes


def load_manifests(zoo):
  """{name: manifest} for zoo/pretrained/*/manifest.json."""
  manifests = {}
  for path in sorted(glob.glob(os.path.join(zoo, "pretrained", "*", "manifest.json"))):
    with open(path) as f:
      manifests[os.path.basename(os.path.dirname(path))] = json.load(f)
  return manifests


class _Machines:
  """Numbers the distinct machines M1, M2, ... in the order rows name them."""

  def __init__(self):
    self.keys = {}

  def key(self, text):
    if not text:
      return ""
    return self.keys.setdefault(text, f"M{len(self.keys) + 1}")

  def legend(self):
    return "".join(f"- {key}: {text}\n" for text, key in self.keys.items())


def _rows(zoo, repo):
  """(name, relative path, measured or None) per recipe, results files read."""
  for name, recipe in load_recipes(zoo).items():
    measured = recipe.get("measured")
    yield (name, os.path.relpath(recipe["_path"], repo),
           _with_results_files(measured, repo) if measured else None)


def table(zoo, repo=REPO):
  """The results table, its machine legend and the commands, ending in a newline."""
  machines = _Machines()
  lines = ["| recipe | figures | protocol | real-vs-real floor | wall time | machine | date |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
  for name, path, measured in _rows(zoo, repo):
    if not measured:
      lines.append(f"| [{name}]({path}) | not run | | | | | |")
      continue
    date = measured.get("date") if isinstance(measured.get("date"), str) else ""
    lines.append(
        f"| [{name}]({path}) | {_cell(figures(measured) or 'see recipe')} | "
        f"{_cell(protocol(measured))} | {_cell(floors(measured))} | "
        f"{_cell(wall_time(measured))} | {machines.key(machine_text(measured))} | "
        f"{date or 'not recorded'} |")
  return "\n".join(lines) + "\n\nMachines (2 cores each, no GPU):\n\n" + machines.legend()


def _manifest_figures(manifest):
  evaluation = manifest.get("evaluation") or {}
  metrics = evaluation.get("metrics") or {}
  return figure_values(metrics), evaluation


def pretrained_table(zoo, repo=REPO):
  """One row per shipped model: its manifest's figures, and whether the table's agree."""
  recipes = load_recipes(zoo)
  lines = ["| model | manifest figures | protocol | results table |",
           "| --- | --- | --- | --- |"]
  for name, manifest in load_manifests(zoo).items():
    found, evaluation = _manifest_figures(manifest)
    samples = evaluation.get("num_samples")
    for block in (evaluation.get("metrics") or {}).values():
      if isinstance(block, dict):
        samples = block.get("num_samples", block.get("num_images", samples))
        break
    options = evaluation.get("metric_options") or {}
    shown = (f"{samples:,} samples, {evaluation.get('split', DEFAULT_SPLIT)}, "
             f"seed {evaluation.get('seed', DEFAULT_SEED)}"
             + "".join(f", {key}={value}" for key, value in sorted(options.items())))
    recipe = recipes.get(manifest.get("recipe"), {})
    measured = recipe.get("measured")
    text = ", ".join(f"{label} {_number(value)}" for label, _, value, _ in found)
    lines.append(f"| `{name}` | {_cell(text)} | {_cell(shown)} | "
                 f"{_cell(_agreement(manifest, found, shown, measured, repo))} |")
  return "\n".join(lines) + "\n"


def _close(a, b):
  """Equal to 0.1%: a recipe records figures to 3-4 digits, a manifest in full."""
  return abs(a - b) <= 1e-3 * max(abs(a), abs(b))


def _agreement(manifest, found, shown, measured, repo):
  """'same run and figures', or which differs and why."""
  if not measured:
    return "recipe not run"
  measured = _with_results_files(measured, repo)
  table_values = {key: value for _, key, value, _ in figure_values(measured)}
  differing = [label for label, key, value, _ in found
               if key in table_values and not _close(table_values[key], value)]
  runs = manifest.get("training_runs") or []
  run_seconds = sum(run.get("wall_seconds", 0) for run in runs)
  table_seconds = _find(measured, "wall_time_s") or _find(measured, "train_wall_time_seconds")
  # The recipe times the command, run_info.json the loop: a few seconds apart for one run.
  same_run = (bool(table_seconds) and abs(run_seconds - table_seconds) <= 10
              and all(str(run.get("started", "")).startswith(str(measured.get("date")))
                      for run in runs))
  reasons = []
  if not same_run:
    started = ", ".join(str(run.get("started", "?"))[:10] for run in runs)
    reasons.append(f"another run of the recipe ({started}, {_duration(run_seconds)})")
  table_protocol = protocol(measured)
  if table_protocol.split(" samples")[0] != shown.split(" samples")[0]:
    reasons.append(f"other protocol (table: {table_protocol})")
  if not differing and not reasons:
    return "same run, same figures (to 0.1%)"
  if not differing:
    return "same figures; " + "; ".join(reasons)
  return f"differs in {', '.join(differing)}: " + "; ".join(reasons or ["same run"])


def gallery(zoo, repo=REPO):
  """Every recipe's grid with its caption: recipe, step, wall time, machine, figures."""
  machines = _Machines()
  parts = []
  for name, path, measured in _rows(zoo, repo):
    grid = measured and (measured.get("samples") or measured.get("sample_grid"))
    if not isinstance(grid, str) or not grid.endswith(".png"):
      continue
    steps = _find(measured, "steps") or _find(measured, "train_steps")
    caption = (f"[{name}](../{path}), step {_number(steps) if steps else '?'}, "
               f"{wall_time(measured)}, {machines.key(machine_text(measured))}: "
               f"{figures(measured) or 'see recipe'} ({protocol(measured)})")
    parts.append(f"### {name}\n\n![{name}](../{grid})\n\n{caption}\n")
  return "\n".join(parts) + "\nMachines:\n\n" + machines.legend()


def replace_between_markers(text, new_table, markers=(START_MARKER, END_MARKER)):
  """text with everything between the markers replaced by new_table; None if no markers."""
  start_marker, end_marker = markers
  start, end = text.find(start_marker), text.find(end_marker)
  if start < 0 or end < start:
    return None
  return text[:start + len(start_marker)] + "\n" + new_table + text[end:]


def _update(path, blocks):
  """(current text, updated text) of path with each (markers, content) block replaced."""
  with open(path) as f:
    current = f.read()
  updated = current
  for markers, content in blocks:
    replaced = replace_between_markers(updated, content, markers)
    if replaced is None:
      cli.usage_error(f"{path} has no {markers[0]} ... {markers[1]} markers; add them where "
                      f"the table belongs and rerun.")
    updated = replaced
  return current, updated


def main(argv):
  cli.reject_positional_arguments(argv)
  repo = os.path.dirname(os.path.abspath(FLAGS.zoo))
  try:
    files = {FLAGS.readme: [((START_MARKER, END_MARKER), table(FLAGS.zoo, repo)),
                            (PRETRAINED_MARKERS, pretrained_table(FLAGS.zoo, repo))],
             FLAGS.gallery: [(GALLERY_MARKERS, gallery(FLAGS.zoo, repo))]}
  except (ValueError, OSError) as e:
    cli.usage_error(str(e))
  for path in files:
    if not os.path.exists(path):
      cli.usage_error(f"{path} does not exist; it holds the generated tables.")
  # Every file's markers are checked before any file is written.
  updates = {path: _update(path, blocks) for path, blocks in files.items()}
  stale = [path for path, (current, updated) in updates.items() if updated != current]
  if not FLAGS.check:
    for path in stale:
      storage.write_atomically(path, updates[path][1])
  if FLAGS.check:
    if stale:
      print(f"The results tables in {', '.join(stale)} differ from the recipes' measured "
            f"figures; run `python tools/results_table.py`.", file=sys.stderr)
      sys.exit(1)
    return
  print(f"Wrote {', '.join(stale) or 'nothing (all current)'}.")


if __name__ == "__main__":
  cli.run(main)

"""Regenerates the README's results table from the zoo: `python tools/results_table.py`.

One row per zoo recipe (zoo/*.json and zoo/*/*.json), built only from what a
run recorded in the recipe's `measured` field, so every number in the table
comes from a run. The table goes between the markers

  <!-- results-table:start -->
  <!-- results-table:end -->

in README.md, and nowhere else; without the markers (or the file) it is printed
to stdout instead. `--check` exits 1 if the README's table is out of date.

What is read from `measured` (null means "not run yet"):
  figures    the first value found (depth first) for each known metric key —
             fid, fcd, kid, inception_score, classifier_score, precision,
             recall, swd_x1e3_avg, ms_ssim, nll_nats, mse/test_mse,
             psnr_db/test_psnr_db, modes_covered_2500, test_accuracy, ... — with its
             `<key>_real_baseline` beside it when there is one; a string value
             ending in .json under `results` or `results_file` is read as a
             `keras_gen.evaluate` results file.
  steps      `steps` or `train_steps`.
  wall time  `wall_time` (text) or `train_wall_time_seconds` / `wall_seconds`.
  machine    `machine`: text, or the dict keras_gen.machine.describe() gives (train's
             run_info.json, evaluate's and benchmark's JSON) with `other_load_cores`
             in it or beside it: "AMD EPYC, 2 cores (...), Python ..., TensorFlow
             ...; idle (other processes used 0.02 cores on average)".
  samples    `samples` or `sample_grid`: a PNG path, shown as a link.
  status     `status`, appended to the figures (e.g. "partial").
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402
from keras_gen import config as config_lib  # noqa: E402
from keras_gen import machine  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_MARKER = "<!-- results-table:start -->"
END_MARKER = "<!-- results-table:end -->"

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
    (("modes_covered_2500",), "modes covered (2,500)"),
    (("high_quality_fraction_2500",), "high quality (2,500)"),
    (("reverse_kl_2500",), "reverse KL (2,500)"),
    (("test_accuracy",), "test accuracy"),
)
# Sub-dicts that hold training-time losses or timings, not evaluation figures.
SKIPPED_KEYS = ("final_training_losses", "final_train_loss", "seconds", "config")

flags.DEFINE_string("readme", os.path.join(REPO, "README.md"), "The README to update.")
flags.DEFINE_string("zoo", os.path.join(REPO, "zoo"), "The folder of recipes.")
flags.DEFINE_bool("check", False, "Only check that the README's table is current (exit 1 if not).")
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


def figures(measured):
  """'FCD 41.2 (real 0.52), KID 0.031, ...' from a measured dict."""
  parts = []
  for keys, label in FIGURES:
    for key in keys:
      value = _find(measured, key)
      if value is not None:
        baseline = _find(measured, f"{key}_real_baseline")
        text = f"{label} {_number(value)}"
        parts.append(text + (f" (real {_number(baseline)})" if baseline is not None else ""))
        break
  return ", ".join(parts)


def _wall_time(measured):
  if isinstance(measured.get("wall_time"), str):
    return measured["wall_time"]
  for key in ("train_wall_time_seconds", "wall_seconds", "wall_time_s"):
    seconds = _find(measured, key)
    if seconds is not None:
      minutes, seconds = divmod(int(round(seconds)), 60)
      return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
  return ""


def _machine(measured):
  described = measured.get("machine", "")
  if not isinstance(described, dict):
    return described
  # The load sits in the machine (train's run_info.json, evaluate's JSON) or beside it
  # (tools/benchmark.py's JSON).
  load = described.get("other_load_cores", measured.get("other_load_cores"))
  return f"{machine.summary(described)}; {machine.load_note(load)}"


def _cell(text):
  return str(text).replace("|", "\\|").replace("\n", " ")


def row(name, recipe, repo):
  """One markdown table row for a recipe document."""
  path = os.path.relpath(recipe["_path"], repo)
  measured = recipe.get("measured")
  if not measured:
    return f"| [{name}]({path}) | not run yet | | | | |"
  measured = _with_results_files(measured, repo)
  text = figures(measured) or "see recipe"
  if measured.get("status"):
    text += f"; {measured['status']}"
  steps = _find(measured, "steps") or _find(measured, "train_steps")
  samples = measured.get("samples") or measured.get("sample_grid") or ""
  samples = f"[grid]({samples})" if isinstance(samples, str) and samples.endswith(".png") else ""
  return (f"| [{name}]({path}) | {_cell(text)} | {_number(steps) if steps else ''} | "
          f"{_cell(_wall_time(measured))} | {_cell(_machine(measured))} | {samples} |")


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
    document["_path"] = path
    recipes[os.path.basename(path)[:-5]] = document
  return recipes


def table(zoo, repo=REPO):
  """The whole markdown table, header included, ending in a newline."""
  lines = ["| Recipe | Measured | Steps | Wall time | Machine | Samples |",
           "|---|---|---|---|---|---|"]
  lines += [row(name, recipe, repo) for name, recipe in load_recipes(zoo).items()]
  return "\n".join(lines) + "\n"


def replace_between_markers(text, new_table):
  """text with everything between the markers replaced by new_table; None if no markers."""
  start, end = text.find(START_MARKER), text.find(END_MARKER)
  if start < 0 or end < start:
    return None
  return text[:start + len(START_MARKER)] + "\n" + new_table + text[end:]


def main(argv):
  cli.reject_positional_arguments(argv)
  try:
    new_table = table(FLAGS.zoo, os.path.dirname(os.path.abspath(FLAGS.zoo)))
  except (ValueError, OSError) as e:
    cli.usage_error(str(e))
  current = None
  if os.path.exists(FLAGS.readme):
    with open(FLAGS.readme) as f:
      current = f.read()
  updated = replace_between_markers(current, new_table) if current is not None else None
  if updated is None:
    sys.stdout.write(new_table)
    print(f"{FLAGS.readme} has no {START_MARKER} ... {END_MARKER} markers; the table is "
          f"above. Add the markers where it belongs and rerun.", file=sys.stderr)
    sys.exit(1 if FLAGS.check else 0)
  if FLAGS.check:
    if updated != current:
      print(f"The results table in {FLAGS.readme} is out of date; run "
            f"`python tools/results_table.py`.", file=sys.stderr)
      sys.exit(1)
    return
  if updated != current:
    config_lib.write_atomically(FLAGS.readme, updated)
  print(f"Wrote the table of {new_table.count(chr(10)) - 2} recipes into {FLAGS.readme}.")


if __name__ == "__main__":
  cli.run(main)

"""Benchmarks a recipe's train step: `python tools/benchmark.py --recipe=dcgan_fashion_mnist`.

Prints the machine (CPU model and flags, load), images/s in float32 and
mixed_bfloat16 with and without XLA, the step's executed GFLOP as a fraction of
float32 and bfloat16 matmuls timed in the same run, with `--ops` where the
step's time goes op by op, and the input pipeline's own rate; `--output`
writes them as JSON for the zoo's results. `--progan_levels=all` instead times
a Progressive GAN recipe at every level of detail, at the minibatch its schedule
uses there, with the executed GFLOP per image and the fraction of the matmul
rate, and estimates its run's duration (`keras_gen.bench.progan_benchmark`);
`--hparams='minibatch_overrides=4:128;8:128;16:128;32:64'` times the official
code's minibatches instead:

  python tools/benchmark.py --recipe=progan_celeba_hq --progan_levels=all --resolution=1024
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402
from keras_gen import config as config_lib  # noqa: E402

flags.DEFINE_string("recipe", "dcgan_fashion_mnist", "Zoo recipe to benchmark.")
flags.DEFINE_string("model", "", "Override the recipe's model.")
flags.DEFINE_string("dataset", "", "Override the recipe's dataset.")
flags.DEFINE_string("data_dir", "", "Where dataset files are.")
flags.DEFINE_integer("batch_size", 0, "Override the recipe's global batch size.")
flags.DEFINE_string("hparams", "", "Hyperparameter overrides, e.g. 'd_filters=32'.")
flags.DEFINE_list("precisions", [], "Precisions to time (none, mixed_bfloat16, mixed_float16); "
                  "default: none, plus mixed_bfloat16 where the CPU has native bfloat16 "
                  "(AVX-512 BF16 or AMX).")
flags.DEFINE_integer("steps", 30, "Timed steps per mode, in alternating rounds (after 3 "
                     "warm-up steps).")
flags.DEFINE_enum("xla", "both", ["both", "on", "off"], "Which compile modes to time "
                  "(--progan_levels: both means the recipe's).")
flags.DEFINE_boolean("ops", False, "Also replay every convolution and matmul of the first "
                     "mode's step alone and show, op by op, where the step's time goes.")
flags.DEFINE_list("memory", [], "Instead of timing, report the peak memory of training and "
                  "export for these recipes ('all' for every zoo recipe).")
flags.DEFINE_list("progan_levels", [], "Instead, time a phased recipe's training step at "
                  "these resolutions ('all': 4 to the top), each in its own process, and "
                  "estimate the schedule's duration.")
flags.DEFINE_integer("resolution", 0, "Override the recipe's image side (the MNISTs are "
                     "zero-padded to it); with --progan_levels, the data's side, for timing "
                     "without the dataset (default: the recipe's dataset's).")
flags.DEFINE_integer("channels", 0, "--progan_levels with --resolution: the data's channels "
                     "(default: the dataset's dataset.json, else what its name says, else 3).")
flags.DEFINE_integer("matmul_size", 2048, "Side of the square matmuls timed in the same run, "
                     "whose rate the step's GFLOP/s is a fraction of.")
flags.DEFINE_enum("on_nonfinite", "", ["", "skip", "restore"], "Override the recipe's "
                  "non-finite guard, to time what --on_nonfinite=skip costs per step.")
flags.DEFINE_string("output", "", "Also write the results to this JSON file.")
flags.DEFINE_boolean("record_policy", False, "Append the XLA and precision comparisons timed "
                     "here to keras_gen/bench/measured_policy.json, the measured cases that "
                     "--xla=auto and --mixed_precision=auto follow (refused unless the machine "
                     "was idle).")
FLAGS = flags.FLAGS


def _config():
  values = dict(config_lib.load_recipe(FLAGS.recipe)) if FLAGS.recipe else {}
  hparams = dict(values.pop("hparams", {}))
  hparams.update(config_lib.parse_hparams(FLAGS.hparams))
  for name in ("model", "dataset", "data_dir", "batch_size", "on_nonfinite"):
    if FLAGS[name].value:
      values[name] = FLAGS[name].value
  if FLAGS.resolution and not FLAGS.progan_levels:  # progan_benchmark.data_shape reads it there.
    values["resolution"] = FLAGS.resolution
  # on_nonfinite too: the recipe's guard is part of the step it runs (restore copies nothing).
  keep = {field: values[field] for field in ("model", "dataset", "data_dir", "batch_size", "seed",
                                             "resolution", "mixed_precision", "xla", "on_nonfinite")
          if field in values}
  return config_lib.TrainConfig(**keep, hparams=hparams)


# What can be timed: 'auto' is one of these, chosen by the machine.
_TIMED_PRECISIONS = tuple(p for p in config_lib.MIXED_PRECISION if p != "auto")


def _modes(benchmark):
  from keras_gen import machine  # pylint: disable=g-import-not-at-top
  precisions = FLAGS.precisions or (
      ["none", "mixed_bfloat16"] if machine.has_native_bfloat16() else ["none"])
  for precision in precisions:
    if precision not in _TIMED_PRECISIONS:
      cli.usage_error(f"--precisions: {precision!r} is not one of {', '.join(_TIMED_PRECISIONS)}.")
  xla_modes = {"both": (False, True), "on": (True,), "off": (False,)}[FLAGS.xla]
  return [benchmark.Mode(precision, xla) for precision in precisions for xla in xla_modes]


def main(argv):
  cli.start(argv)
  cli.quiet_tensorflow()
  from keras_gen.bench import benchmark
  if FLAGS.record_policy and (FLAGS.progan_levels or FLAGS.memory):
    cli.usage_error("--record_policy records a recipe's step timings; it does not go with "
                    "--progan_levels or --memory.")
  if FLAGS.progan_levels:
    _write(cli.exit_on_user_error(_progan_levels))
    return
  if FLAGS.memory:
    recipes = config_lib.recipe_names() if FLAGS.memory == ["all"] else FLAGS.memory
    results = [cli.exit_on_user_error(benchmark.measure_memory, recipe) for recipe in recipes]
    for row in results:
      print(f"{row['recipe']:<36} training {row['training_mb']:6d} MB   "
            f"export {row['export_mb']:6d} MB   ({row['steps']} steps)")
    _write(results)
    return
  modes = _modes(benchmark)
  if FLAGS.record_policy and not (FLAGS.xla == "both" or {"none", "mixed_bfloat16"} <= {
      mode.precision for mode in modes}):
    cli.usage_error("--record_policy needs a comparison: time --xla=both, or float32 and "
                    "mixed_bfloat16 (--precisions=none,mixed_bfloat16).")
  results = cli.exit_on_user_error(
      lambda: benchmark.measure(_config(), FLAGS.steps, modes, ops=FLAGS.ops,
                                matmul_size=FLAGS.matmul_size))
  print(benchmark.format_report(results))
  _write(results)
  if FLAGS.record_policy:
    _record_policy(results)


def _record_policy(results):
  import time  # pylint: disable=g-import-not-at-top
  from keras_gen.bench import policy  # pylint: disable=g-import-not-at-top
  # The command as given (absl leaves no flags in main's argv), less what only writes files.
  command = " ".join(["python tools/benchmark.py"] + [
      arg for arg in sys.argv[1:] if arg != "--record_policy" and not arg.startswith("--output")])
  cases = policy.cases_from(results, FLAGS.recipe, command, time.strftime("%Y-%m-%d"))
  cli.exit_on_user_error(policy.record, cases, results)
  for case in cases:
    print(f"Recorded in keras_gen/bench/measured_policy.json: {case['choice']} "
          f"{case['faster']} faster, {case['step_ms']} ms/step ({case['setting']}).")


def _progan_levels():
  from keras_gen.bench import progan_benchmark  # pylint: disable=g-import-not-at-top
  try:
    sides = [] if FLAGS.progan_levels == ["all"] else [int(v) for v in FLAGS.progan_levels]
  except ValueError:
    raise config_lib.ConfigError(f"--progan_levels={','.join(FLAGS.progan_levels)} is not "
                                 f"'all' or a list of resolutions.") from None
  if len(FLAGS.precisions) > 1:
    cli.usage_error(f"--progan_levels times one precision; --precisions holds "
                    f"{','.join(FLAGS.precisions)}.")
  config = _config()  # The recipe's precision and XLA choice unless the flags name one.
  if FLAGS.precisions:
    config.mixed_precision = FLAGS.precisions[0]
  if FLAGS.xla != "both":
    config.xla = FLAGS.xla == "on"
  shape, channels_source = progan_benchmark.data_shape(config, FLAGS.resolution, FLAGS.channels)
  results = progan_benchmark.measure_levels(config, shape, sides, FLAGS.batch_size, FLAGS.steps,
                                            channels_source=channels_source,
                                            matmul_size=FLAGS.matmul_size)
  print(progan_benchmark.format_levels_report(results))
  return results


def _write(results):
  if FLAGS.output:
    with open(FLAGS.output, "w") as f:
      json.dump(results, f, indent=2, sort_keys=True)


if __name__ == "__main__":
  cli.run(main)

"""Evaluates a trained model: `python -m keras_gen.evaluate --model_dir=DIR --metrics=...`.

Works from a checkpoint folder (--model_dir), an export (--saved_model) or the
pretrained zoo (--pretrained), prints a table and writes the results as JSON
(--output).
"""

from absl import flags

from keras_gen import cli
from keras_gen import config as config_lib
from keras_gen import metrics

flags.DEFINE_string("model_dir", "", "A training run folder; its newest checkpoint is used.")
flags.DEFINE_integer("step", None, "With --model_dir: the checkpoint written at this training "
                     "step instead of the newest.")
flags.DEFINE_string("saved_model", "", "An export folder (EXPORT_DIR or EXPORT_DIR/<version>).")
flags.DEFINE_string("pretrained", "", "A model of the pretrained zoo (zoo/pretrained/NAME), by "
                    "name or folder.")
flags.DEFINE_list("metrics", [], "Comma-separated metrics: " + ", ".join(metrics.metric_names()))
flags.DEFINE_string("dataset", "", "Dataset to compare with (default: the run's).")
flags.DEFINE_string("data_dir", "", "Where dataset files are (default: the run's).")
flags.DEFINE_string("split", "test", "Dataset split to evaluate on: test or train.")
# As training's --metric_samples and the results table.
flags.DEFINE_integer("num_samples", 5000, "Samples or held-out examples per metric.")
flags.DEFINE_integer("seed", 0, "Seed for sampling.")
flags.DEFINE_string("output", "", "Results JSON path (default: MODEL_DIR/eval/stepN.json; "
                    "eval/NAME_stepN.json for --pretrained).")
flags.DEFINE_string("metric_options", "", "Metric settings, e.g. 'iwae_samples=5000'.")
FLAGS = flags.FLAGS


def main(argv):
  cli.start(argv)
  if FLAGS.num_samples <= 0:
    cli.usage_error(f"--num_samples must be positive, got {FLAGS.num_samples}.")
  cli.quiet_tensorflow()
  from keras_gen.metrics import evaluation
  results = cli.exit_on_user_error(lambda: evaluation.evaluate(
      model_dir=FLAGS.model_dir, saved_model=FLAGS.saved_model, metric_names=FLAGS.metrics,
      dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, split=FLAGS.split,
      num_samples=FLAGS.num_samples, seed=FLAGS.seed, output=FLAGS.output,
      extra=config_lib.parse_hparams(FLAGS.metric_options, "--metric_options"),
      pretrained=FLAGS.pretrained, step=FLAGS.step))
  print(evaluation.format_table(results))
  print(f"Wrote {results['output']}")


if __name__ == "__main__":
  cli.run(main, interrupted="Interrupted; no results were written.")

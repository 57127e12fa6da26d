"""Trains a zoo model: `python -m keras_gen.train --model=dcgan --dataset=fashion_mnist`.

Values come from, in increasing precedence: the defaults, a zoo recipe
(`--recipe=NAME` or a path to a recipe JSON), and the flags typed here.
Rerunning the same command resumes from the newest checkpoint in --model_dir.
"""

import dataclasses
import sys

from absl import flags

from keras_gen import cli
from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import registry

_DEFAULTS = config_lib.TrainConfig()

flags.DEFINE_string("recipe", None, "A zoo recipe name (see zoo/) or a path to a recipe JSON; "
                    "flags given here override its values. Recipes: "
                    + ", ".join(config_lib.recipe_names()))
flags.DEFINE_string("model", _DEFAULTS.model, "The model to train. Models:\n"
                    + registry.describe_models())
flags.DEFINE_string("dataset", _DEFAULTS.dataset, "The training data. Datasets:\n"
                    + data.describe_datasets())
flags.DEFINE_string("model_dir", None, "Folder for checkpoints, TensorBoard logs, samples and "
                    "the export; an existing one is resumed.")
flags.DEFINE_string("data_dir", "", "Where dataset files are (IDX files for fashion_mnist/mnist).")
flags.DEFINE_integer("train_steps", _DEFAULTS.train_steps, "Total generator/model updates.")
flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Global batch size, split across replicas.")
flags.DEFINE_string("strategy", _DEFAULTS.strategy, "One of " + "|".join(config_lib.STRATEGIES))
flags.DEFINE_integer("cpu_replicas", 0, "Split the CPU into this many logical devices "
                     "(with --strategy=mirrored), to run several replicas without accelerators.")
flags.DEFINE_string("tpu", "", "TPU name or grpc:// address for --strategy=tpu.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seed for initialization, data order and noise.")
flags.DEFINE_boolean("xla", _DEFAULTS.xla, "Compile the train step with XLA (one replica); "
                     "--xla or --noxla overrides a recipe's \"auto\", which compiles where the "
                     "measured cases (keras_gen/bench/measured_policy.json) found XLA faster on "
                     "this CPU's class: on AVX2 CPUs without AVX-512.")
flags.DEFINE_string("mixed_precision", _DEFAULTS.mixed_precision,
                    "One of " + "|".join(config_lib.MIXED_PRECISION) + "; auto is "
                    "mixed_bfloat16 on a TPU, float32 on a GPU, and on a CPU what the measured "
                    "cases (keras_gen/bench/measured_policy.json) found faster on its class: "
                    "mixed_bfloat16 where bfloat16 is native (AVX-512 BF16, AMX), else float32.")
flags.DEFINE_boolean("deterministic", False, "Enable TensorFlow op determinism.")
flags.DEFINE_string("on_nonfinite", _DEFAULTS.on_nonfinite,
                    "On a NaN/inf loss: skip (none of the step's writes is applied, training "
                    "goes on; it copies the weights each step, measured at 2-12% of a step "
                    "against restore, docs/benchmark.md) or restore (reload the last "
                    "checkpoint; stop if it recurs).")
flags.DEFINE_integer("checkpoint_every", _DEFAULTS.checkpoint_every, "Steps between checkpoints.")
flags.DEFINE_integer("summary_every", _DEFAULTS.summary_every,
                     "Steps between image summaries and sample PNGs.")
flags.DEFINE_integer("log_every", _DEFAULTS.log_every, "Steps between progress lines.")
flags.DEFINE_integer("keep_checkpoints", _DEFAULTS.keep_checkpoints,
                     "How many recent checkpoints to keep.")
flags.DEFINE_string("export_dir", "", "SavedModel export folder (default MODEL_DIR/export).")
flags.DEFINE_integer("resolution", 0, "Image side: --dataset=folder:PATH is resized to it "
                     "(default 64); fashion_mnist and mnist are zero-padded to it (e.g. 32).")
flags.DEFINE_list("metrics", [], "Metrics to evaluate at every checkpoint (see "
                  "`python -m keras_gen.evaluate --helpfull`), logged as metrics/* in TensorBoard.")
flags.DEFINE_integer("metric_samples", _DEFAULTS.metric_samples, "Samples per snapshot metric.")
flags.DEFINE_string("metric_options", "", "Settings of --metrics, as evaluate's, e.g. "
                    "'iwae_samples=100'.")
flags.DEFINE_string("hparams", "", "Model hyperparameters, e.g. 'latent_dim=64,loss=minimax'.")
flags.DEFINE_boolean("allow_changes", False, "Resume --model_dir even though this command's "
                     "seed, batch_size, hparams, precision or XLA differ from the run's "
                     "(refused otherwise); the new values are used from here on.")

FLAGS = flags.FLAGS

_CONFIG_FLAGS = [field.name for field in dataclasses.fields(config_lib.TrainConfig)
                 if field.name != "element_shape"]


def main(argv):
  cli.start(argv)
  cli.quiet_tensorflow()
  from keras_gen import api
  from keras_gen.engine import loop
  typed = {name: FLAGS[name].value for name in _CONFIG_FLAGS if FLAGS[name].present}
  try:
    result = cli.exit_on_user_error(
        lambda: api.run_training(config_lib.make_config(FLAGS.recipe, typed)))
  except loop.NonFiniteError as e:
    print(f"Error: {e}", file=sys.stderr)
    sys.exit(1)
  if result.interrupted:
    sys.exit(128 + result.signal)


if __name__ == "__main__":
  cli.run(main, interrupted="Interrupted before training started; no checkpoint was written.")

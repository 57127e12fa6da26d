"""Exports a trained run as a SavedModel: `python -m keras_gen.export --model_dir=DIR`.

Writes EXPORT_DIR/<step>/ (the layout TF Serving polls) from the newest
checkpoint; training already does this when it finishes.
"""

import os

from absl import app
from absl import flags

from keras_gen import cli

flags.DEFINE_string("model_dir", None, "The training run to export.")
flags.DEFINE_string("export_dir", "", "Where to write <step>/ (default MODEL_DIR/export).")
flags.DEFINE_string("checkpoint", "", "A specific checkpoint path (default: the newest).")
FLAGS = flags.FLAGS


def export(model_dir, export_dir="", checkpoint=""):
  from keras_gen import serving  # Imports TensorFlow; kept out of --help.
  from keras_gen.engine import restore
  run = restore.load_run(model_dir, checkpoint or None)
  return serving.export(run.family, run.networks, run.config, run.step,
                        export_dir or os.path.join(model_dir, "export"))


def main(argv):
  cli.reject_positional_arguments(argv)
  cli.quiet_tensorflow()
  if not FLAGS.model_dir:
    cli.usage_error("--model_dir is required: the training run to export.")
  path = cli.exit_on_user_error(export, FLAGS.model_dir, FLAGS.export_dir, FLAGS.checkpoint)
  print(f"Exported SavedModel to {path}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags_or_exit)

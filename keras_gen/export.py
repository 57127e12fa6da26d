"""Exports a trained run as a SavedModel: `python -m keras_gen.export --model_dir=DIR`.

Writes EXPORT_DIR/<step>/ (the layout TF Serving polls) from the newest
checkpoint; training already does this when it finishes.
"""

import contextlib
import os

from absl import flags

from keras_gen import cli

flags.DEFINE_string("model_dir", None, "The training run to export.")
flags.DEFINE_string("export_dir", "", "Where to write <step>/ (default MODEL_DIR/export).")
flags.DEFINE_string("checkpoint", "", "A specific checkpoint path (default: the newest).")
flags.DEFINE_integer("step", None, "The checkpoint written at this training step (default: the "
                     "newest).")
flags.DEFINE_enum("format", "saved_model", ["saved_model", "onnx"],
                  "saved_model, or onnx: the SavedModel plus EXPORT_DIR/onnx/<step>/*.onnx of "
                  "the generator or decoder (needs the [onnx] extra).")
FLAGS = flags.FLAGS


def export(model_dir, export_dir="", checkpoint="", export_format="saved_model", step=None):
  """Exports the newest checkpoint (or the given one, or the one at `step`) under model_dir's
  lock, as training holds it; returns the paths written."""
  from keras_gen import serving  # Imports TensorFlow; kept out of --help.
  from keras_gen.engine import lock
  from keras_gen.engine import restore
  # A folder without a run's config.json gets load_run's sentence saying so, not the lock's.
  holds_run = os.path.isfile(os.path.join(model_dir, "config.json"))
  with lock.hold(model_dir, "export") if holds_run else contextlib.nullcontext():
    run = restore.load_run(model_dir, checkpoint or None, step)
    export_dir = export_dir or os.path.join(model_dir, "export")
    path = serving.export(run.family, run.networks, run.config, run.step, export_dir, run.family_state)
    if export_format != "onnx":
      return [path]
    from keras_gen import onnx_export
    return [path] + sorted(onnx_export.export_onnx(path, export_dir).values())


def main(argv):
  cli.start(argv)
  if not FLAGS.model_dir:
    cli.usage_error("--model_dir is required: the training run to export.")
  cli.quiet_tensorflow()
  paths = cli.exit_on_user_error(export, FLAGS.model_dir, FLAGS.export_dir, FLAGS.checkpoint,
                                 FLAGS.format, FLAGS.step)
  for path in paths:
    print(f"Exported {path}")


if __name__ == "__main__":
  cli.run(main, interrupted="Interrupted; no half-written export was left.")

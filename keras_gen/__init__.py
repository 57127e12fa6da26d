"""keras_gen: a TensorFlow 2 / Keras 3 model zoo of generative models.

The Python API (`keras_gen.api`): `keras_gen.load(model_dir | export_dir | pretrained
name)` and `keras_gen.fit(recipe, model_dir=..., **settings)`. Importing keras_gen
imports no TensorFlow; these functions do, when called.
"""

import os
import signal
import sys

# Records whether the user chose TF_CPP_MIN_LOG_LEVEL, and sets it before anything imports
# TensorFlow (which reads it once): see keras_gen.tf_startup.
from keras_gen import tf_startup  # noqa: F401

__version__ = "0.1.0"
_API = ("load", "fit", "Model")


def _one_line_on_ctrl_c_while_a_command_imports():
  """`python -m keras_gen.COMMAND`: Ctrl-C while the command's own imports run, before
  `cli.run` takes over, prints one line and exits 130 instead of a traceback. Importing
  keras_gen as a library, or a SIGINT handler someone else installed, is left alone."""
  argv = getattr(sys, "orig_argv", [])
  module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
  if (not module.startswith("keras_gen.")
      or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
    return

  def interrupted(signum, frame):  # pylint: disable=unused-argument
    os.write(sys.stderr.fileno(), b"Interrupted while starting; nothing was written.\n")
    os._exit(128 + signal.SIGINT)  # pylint: disable=protected-access

  signal.signal(signal.SIGINT, interrupted)


_one_line_on_ctrl_c_while_a_command_imports()


def __getattr__(name):
  """keras_gen.load, .fit and .Model, from keras_gen.api on first use."""
  if name in _API:
    from keras_gen import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f"module 'keras_gen' has no attribute {name!r}")


def __dir__():
  return sorted([*globals(), *_API])

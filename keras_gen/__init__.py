"""keras_gen: a TensorFlow 2 / Keras 3 model zoo of generative models. `keras_gen.load` and
`keras_gen.fit` (`keras_gen.api`) import TensorFlow when called; importing keras_gen does not."""

import os
import signal
import sys

# Before anything imports TensorFlow, which reads TF_CPP_MIN_LOG_LEVEL once.
from keras_gen import tf_startup  # noqa: F401

__version__ = "0.1.0"
_API = ("load", "fit", "Model")


def _one_line_on_ctrl_c_while_a_command_imports():
  """Under `python -m keras_gen.COMMAND`, Ctrl-C before `cli.run` is one line and exit 130."""
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
  if name in _API:
    from keras_gen import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f"module 'keras_gen' has no attribute {name!r}")


def __dir__():
  return sorted([*globals(), *_API])

"""Imports TensorFlow without its C++ start-up lines on stderr, unless they are asked for.

On a machine without a GPU, importing TensorFlow 2.21 and listing its devices
prints lines that read as errors to a newcomer:

  WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
  I0000 ... port.cc:153] oneDNN custom operations are on. ...
  I0000 ... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
  E0000 ... cuda_platform.cc:52] failed call to cuInit: ...

TF_CPP_MIN_LOG_LEVEL cannot hide the first three: they are written before
absl's logging is initialized, whatever the level. So `import_tensorflow`
points file descriptor 2 at a temporary file while TensorFlow is imported and
its devices are listed (which is where cuInit is called), then writes back
every captured line that is not one of NOISE: a real error or warning still
reaches the user. After that, TF_CPP_MIN_LOG_LEVEL=2 keeps TensorFlow's own
INFO lines out of the progress output and lets its warnings and errors through.

Importing this module (keras_gen's __init__ does) records whether the user
chose TF_CPP_MIN_LOG_LEVEL. If so, or with verbose=True (the CLIs' --verbose),
nothing is captured or filtered; --verbose also lowers the level to 0.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# The level the user set before keras_gen was imported, or None.
USER_LOG_LEVEL = os.environ.get(LOG_LEVEL_VARIABLE)
os.environ.setdefault(LOG_LEVEL_VARIABLE, "2")

# Start-up lines of TensorFlow's C++ runtime that say nothing the user can act on.
NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"port\.cc:\d+\] oneDNN custom operations are on",
    r"cudart_stub\.cc:\d+\]",
    r"cuda_platform\.cc:\d+\] failed call to cuInit",
    r"cpu_feature_guard\.cc:\d+\]",
    r"^To enable the following instructions: .* rebuild TensorFlow",  # cpu_feature_guard's.
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation_placer\.cc:\d+\] computation placer already registered",
    r"TF-TRT Warning: Could not find TensorRT",
]))


@contextlib.contextmanager
def python_warnings_hidden():
  """TensorFlow's Python logger (`tf.get_logger()`) at ERROR for the block, for TensorFlow
  calls that warn about TensorFlow's own code or about a file the caller already handles."""
  logger = logging.getLogger("tensorflow")
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


def import_tensorflow(verbose=False):
  """Imports TensorFlow and lists its devices, keeping NOISE off stderr; returns the module.

  verbose=True shows everything TensorFlow logs (level 0 unless the user chose
  one). Listing the physical devices does not initialize the runtime, so a
  logical-device split (`--cpu_replicas`) can still be configured after.
  """
  if "tensorflow" in sys.modules:
    return sys.modules["tensorflow"]
  if verbose and USER_LOG_LEVEL is None:
    os.environ[LOG_LEVEL_VARIABLE] = "0"
  if verbose or USER_LOG_LEVEL is not None:  # Nothing to hide, or the user chose the level.
    return _import_and_list_devices()
  return call_filtering_stderr(_import_and_list_devices)


def call_filtering_stderr(function):
  """Returns function() run with file descriptor 2 captured; then writes the captured lines
  that are not NOISE to stderr, also when function raises."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as captured:
    os.dup2(captured.fileno(), 2)
    try:
      return function()
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      text = captured.read().decode("utf-8", "replace")
      sys.stderr.write("".join(line for line in text.splitlines(True) if not NOISE.search(line)))
      sys.stderr.flush()


def _import_and_list_devices():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.config.list_physical_devices()
  return tf

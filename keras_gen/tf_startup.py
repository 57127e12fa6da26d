"""Imports TensorFlow without its C++ start-up lines (oneDNN, CUDA, cuInit), which reach stderr
before TF_CPP_MIN_LOG_LEVEL applies: fd 2 goes to a file while TensorFlow imports, and every
line that is not NOISE is written back. A TF_CPP_MIN_LOG_LEVEL the user set before keras_gen
was imported, or --verbose (which also lowers it to 0), turns the filter off; the default is 2."""

import contextlib
import logging
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
USER_LOG_LEVEL = os.environ.get(LOG_LEVEL_VARIABLE)
os.environ.setdefault(LOG_LEVEL_VARIABLE, "2")

# Start-up lines that say nothing the user can act on.
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
  """TensorFlow's Python logger at ERROR for the block."""
  logger = logging.getLogger("tensorflow")
  level = logger.level
  logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    logger.setLevel(level)


def import_tensorflow(verbose=False):
  """Imports TensorFlow and lists its devices (where cuInit logs; the runtime is not yet
  initialized, so --cpu_replicas can still split the CPU), keeping NOISE off stderr."""
  if "tensorflow" in sys.modules:
    return sys.modules["tensorflow"]
  if verbose and USER_LOG_LEVEL is None:
    os.environ[LOG_LEVEL_VARIABLE] = "0"
  if verbose or USER_LOG_LEVEL is not None:  # Nothing to hide, or the user chose the level.
    return _import_and_list_devices()
  return call_filtering_stderr(_import_and_list_devices)


def call_filtering_stderr(function):
  """function() with fd 2 captured; the lines that are not NOISE then reach stderr."""
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

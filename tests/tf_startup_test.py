"""keras_gen.tf_startup: TensorFlow's start-up noise is filtered, everything else gets through."""

import os
import subprocess
import sys

import pytest

from keras_gen import tf_startup

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTUP_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796189895.146135    2041 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.\n"
    "I0000 00:00:1796189895.146570    2041 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
    "E0000 00:00:1796189906.581165    2041 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
    "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")


def test_startup_noise_is_dropped_and_other_lines_reach_stderr(capfd):
  def import_with_noise():
    os.write(2, STARTUP_NOISE.encode())
    os.write(2, b"E0000 00:00:1.0 7 op_kernel.cc:1] A real error the user must see\n")
    os.write(2, b"UserWarning: a Python warning\n")
    return "imported"

  assert tf_startup.call_filtering_stderr(import_with_noise) == "imported"

  assert capfd.readouterr().err == ("E0000 00:00:1.0 7 op_kernel.cc:1] A real error the user "
                                    "must see\nUserWarning: a Python warning\n")


def test_what_was_captured_is_written_also_when_the_import_fails(capfd):
  def failing_import():
    os.write(2, STARTUP_NOISE.encode() + b"ImportError detail\n")
    raise ImportError("no TensorFlow")

  with pytest.raises(ImportError):
    tf_startup.call_filtering_stderr(failing_import)

  assert capfd.readouterr().err == "ImportError detail\n"


def test_importing_tensorflow_through_it_prints_nothing_on_stderr():
  env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
  result = subprocess.run(
      [sys.executable, "-c", "from keras_gen import tf_startup\n"
       "tf = tf_startup.import_tensorflow()\nprint(int(tf.constant(2) + 1))"],
      cwd=REPO, env=dict(env, PYTHONPATH=REPO), capture_output=True, text=True, timeout=300)
  assert result.returncode == 0 and result.stdout == "3\n", result.stderr[-2000:]
  assert result.stderr == ""

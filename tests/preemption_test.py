"""A run killed with SIGKILL and restarted with the same command ends where an uninterrupted one does."""

import os
import random
import signal
import socket
import subprocess
import sys

from conftest import assert_same_weights
from conftest import network_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 40


def _command(model_dir, tiny_npz):
  return [sys.executable, "-m", "keras_gen.train", "--model=autoencoder",
          f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}", f"--train_steps={STEPS}",
          "--batch_size=8", "--checkpoint_every=3", "--log_every=1", "--summary_every=1000",
          "--hparams=filters=4,code_size=8"]


def test_sigkill_at_a_random_step_then_rerun_gives_the_uninterrupted_weights(tmp_path, tiny_npz):
  uninterrupted = subprocess.run(_command(tmp_path / "whole", tiny_npz), cwd=REPO,
                                 capture_output=True, text=True, timeout=240)
  assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]

  kill_at = random.Random().randint(5, STEPS - 5)
  command = _command(tmp_path / "killed", tiny_npz)
  process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
  try:
    for line in process.stdout:
      if line.startswith(f"step {kill_at}/"):
        process.send_signal(signal.SIGKILL)
        break
    process.wait(timeout=60)
  finally:
    process.kill()
  assert process.returncode == -signal.SIGKILL, f"the run ended before step {kill_at}"

  resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "Resumed from" in resumed.stdout
  # The killed run's lock is stale: its process is gone.
  assert (f"Warning: took over the lock of train on host {socket.gethostname()}, PID "
          f"{process.pid}, started " in resumed.stderr)
  assert not os.path.exists(tmp_path / "killed" / "lock")
  assert_same_weights(network_weights(str(tmp_path / "whole")),
                      network_weights(str(tmp_path / "killed")))

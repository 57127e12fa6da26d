"""MultiWorkerMirroredStrategy with two worker processes on loopback ports."""

import json
import os
import re
import socket
import subprocess
import sys


from conftest import TINY_HPARAMS
from conftest import assert_same_weights
from conftest import network_weights

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 3


def _free_loopback_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _train_flags(model_dir, tiny_npz, strategy):
  hparams = ",".join(f"{k}={v}" for k, v in TINY_HPARAMS["dcgan"].items())
  return [sys.executable, "-m", "keras_gen.train", "--model=dcgan", f"--dataset=npz:{tiny_npz}",
          f"--model_dir={model_dir}", f"--strategy={strategy}", f"--train_steps={STEPS}",
          "--batch_size=8", f"--hparams={hparams}", "--log_every=1"]


def _digest(output):
  return re.search(r"weights digest ([0-9a-f]+)", output).group(1)


def test_two_workers_end_with_identical_weights_equal_to_one_process(tmp_path, tiny_npz):
  ports = _free_loopback_ports(2)
  cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
  workers = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {"cluster": cluster, "task": {"type": "worker", "index": index}}))
    workers.append(subprocess.Popen(
        _train_flags(tmp_path / "multi", tiny_npz, "multi_worker"), cwd=REPO, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  outputs = []
  try:
    for worker in workers:
      stdout, stderr = worker.communicate(timeout=240)
      assert worker.returncode == 0, stderr[-2000:]
      outputs.append(stdout)
  finally:
    for worker in workers:
      worker.kill()
  assert _digest(outputs[0]) == _digest(outputs[1])
  assert "Exported SavedModel" in outputs[0] and "Exported SavedModel" not in outputs[1]
  single = subprocess.run(_train_flags(tmp_path / "single", tiny_npz, "default"), cwd=REPO,
                          capture_output=True, text=True, timeout=240)
  assert single.returncode == 0, single.stderr[-2000:]
  assert_same_weights(network_weights(str(tmp_path / "single")),
                      network_weights(str(tmp_path / "multi")), atol=1e-5, rtol=1e-4)
  assert not [name for name in os.listdir(tmp_path / "multi") if name.startswith("worker")]

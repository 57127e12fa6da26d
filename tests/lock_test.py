"""One run per model_dir: the lock, a killed holder's lock taken over, and two real runs
at once."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from keras_gen import cli
from keras_gen import export
from keras_gen import storage
from keras_gen.engine import lock
from keras_gen.engine import loop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_held_lock_refuses_a_second_holder_naming_the_first(tmp_path):
  with lock.hold(str(tmp_path), "train"):
    with open(tmp_path / "lock") as f:
      holder = json.load(f)
    assert (holder["host"], holder["pid"], holder["command"]) == (
        socket.gethostname(), os.getpid(), "train")
    with pytest.raises(storage.StorageError) as error:
      lock.acquire(str(tmp_path), "export")
    with pytest.raises(storage.StorageError):
      lock.refuse_if_held(str(tmp_path))
  assert str(error.value) == (
      f"--model_dir={tmp_path} is in use by train on host {socket.gethostname()}, PID "
      f"{os.getpid()}, started {holder['started']}; wait for it to end or use another "
      f"--model_dir.")
  assert not os.path.exists(tmp_path / "lock")  # Released at the end of the block.
  lock.refuse_if_held(str(tmp_path))
  with lock.hold(str(tmp_path), "export"):  # Free again.
    pass


def test_the_lock_of_a_killed_run_is_taken_over_with_a_warning_naming_it(tmp_path, capsys):
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time; from keras_gen.engine import lock; "
       "lock.acquire(sys.argv[1], 'train'); print('held', flush=True); time.sleep(600)",
       str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == "held"
  with pytest.raises(storage.StorageError, match=f"in use by train on host .*, PID "
                                                    f"{holder.pid}, started "):
    lock.acquire(str(tmp_path), "train")
  holder.send_signal(signal.SIGKILL)
  holder.wait()
  assert os.path.exists(tmp_path / "lock")  # Left behind, but no process holds it.
  with lock.hold(str(tmp_path), "train"):
    with open(tmp_path / "lock") as f:
      assert json.load(f)["pid"] == os.getpid()
  assert (f"Warning: took over the lock of train on host {socket.gethostname()}, PID "
          f"{holder.pid}, started " in capsys.readouterr().err)


def test_without_filesystem_locks_a_leftover_lock_is_taken_saying_it_may_still_run(
    tmp_path, monkeypatch, capsys):
  def no_locks(descriptor, operation):
    raise OSError(errno.ENOLCK, "No locks available")
  (tmp_path / "lock").write_text(json.dumps(
      {"host": "other", "pid": 1234, "started": "2026-12-02 10:00:00", "command": "train"}))
  monkeypatch.setattr(lock.fcntl, "flock", no_locks)

  lock.refuse_if_held(str(tmp_path))  # Nothing can be told: no refusal.
  with lock.hold(str(tmp_path), "export"):
    pass

  err = capsys.readouterr().err
  assert "does not support locks (No locks available)" in err
  assert ("took over the lock of train on host other, PID 1234, started 2026-12-02 10:00:00, "
          "which may still be running (without locks this cannot be checked).") in err


def test_training_and_export_refuse_a_model_dir_in_use(tiny_config):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  with lock.hold(config.model_dir, "train"):
    with pytest.raises(storage.StorageError, match="is in use by train on host"):
      loop.run(config)
    # Refused before the data is read (which here would fail), so within seconds.
    config.dataset = "npz:/no/such/data.npz"
    with pytest.raises(storage.StorageError, match="is in use by train on host"):
      loop.run(config)
    with pytest.raises(storage.StorageError, match="is in use by train on host"):
      export.export(config.model_dir)
  export.export(config.model_dir)  # Free again.


def _train_command(model_dir, tiny_npz, seed, steps):
  return [sys.executable, "-m", "keras_gen.train", "--model=autoencoder",
          f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}", f"--train_steps={steps}",
          "--batch_size=8", "--log_every=1", "--summary_every=100000", f"--seed={seed}",
          "--hparams=filters=4,code_size=8"]


def test_two_train_commands_into_one_model_dir_one_runs_the_other_exits_2_naming_it(
    tmp_path, tiny_npz):
  model_dir = tmp_path / "run"
  log = tmp_path / "first.log"
  with open(log, "w") as output:
    first = subprocess.Popen(_train_command(model_dir, tiny_npz, 1, 100000), cwd=REPO,
                             stdout=output, stderr=subprocess.STDOUT)
  try:
    while "step 2/" not in log.read_text():
      assert first.poll() is None, log.read_text()[-2000:]
      time.sleep(0.5)
    second = subprocess.run(_train_command(model_dir, tiny_npz, 2, 4), cwd=REPO,
                            capture_output=True, text=True, timeout=240)
    assert first.poll() is None  # The second did not wait for the first.
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1].startswith(
        f"Error: --model_dir={model_dir} is in use by train on host {socket.gethostname()}, "
        f"PID {first.pid}, started ")
    assert "Exported" not in second.stdout
  finally:
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=120)
  assert first.returncode == 128 + signal.SIGTERM
  assert not os.path.exists(model_dir / "lock")


@pytest.mark.parametrize("command", ["train", "export"])
def test_a_full_disk_at_the_lock_file_exits_2_with_one_sentence_and_leaves_no_lock(
    tiny_config, monkeypatch, capsys, command):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  model_dir = config.model_dir
  before = sorted(os.listdir(model_dir)), sorted(os.listdir(os.path.join(model_dir, "export")))
  real_write = os.write

  def full_disk_for_the_lock(descriptor, data):
    if os.readlink(f"/proc/self/fd/{descriptor}") == os.path.join(model_dir, "lock"):
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real_write(descriptor, data)

  monkeypatch.setattr(os, "write", full_disk_for_the_lock)
  config.train_steps = 2
  run = {"train": lambda: loop.run(config), "export": lambda: export.export(model_dir)}[command]
  capsys.readouterr()
  with pytest.raises(SystemExit) as exit_:
    cli.exit_on_user_error(run)
  error = capsys.readouterr().err
  assert exit_.value.code == 2 and "Traceback" not in error
  assert error.strip().splitlines()[-1] == (
      f"Error: No space left on device for --model_dir={model_dir} (writing {model_dir}/lock); "
      f"nothing was written: free space and rerun the same command.")
  assert (sorted(os.listdir(model_dir)),
          sorted(os.listdir(os.path.join(model_dir, "export")))) == before  # No lock, no new export.

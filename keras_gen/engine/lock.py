"""One writer per model_dir: an exclusive lock file held for a run's whole life.

`model_dir/lock` is created with O_EXCL and holds the holder's host, PID and start
time; it is removed when the run (training and its export, or `keras_gen.export`)
ends. A second run into the folder is refused with a StorageError naming the holder.
A lock whose process is gone (same host, PID not running, or running but started
after the lock was taken, so a reused PID) was left by a killed run and is taken over
with a warning. A lock from another host cannot be checked, so it is only named.
"""

import contextlib
import json
import os
import socket
import sys
import time

from keras_gen import config as config_lib

LOCK_FILE = "lock"


def _process_start_time(pid):
  """Seconds since the epoch when process `pid` started; None if no such process runs (a
  zombie counts as gone); 0.0 if it runs but /proc cannot say when it started."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return None
  except PermissionError:
    pass  # Another user's process: it exists.
  try:
    with open(f"/proc/{pid}/stat") as f:
      fields = f.read().rsplit(")", 1)[1].split()  # After the command name, which may hold spaces.
    with open("/proc/stat") as f:
      boot_time = next(int(line.split()[1]) for line in f if line.startswith("btime "))
  except (OSError, StopIteration, IndexError, ValueError):
    return 0.0
  if fields[0] == "Z":
    return None
  return boot_time + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # Field 22: starttime.


def _is_stale(holder):
  """True when `holder` (the lock's contents) names a process of this host that is gone."""
  if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
    return False
  started = _process_start_time(holder["pid"])
  return started is None or started > holder.get("time", 0.0) + 1.0


def _read(path):
  """The lock's contents, or {} when it cannot be read (being written, or damaged)."""
  try:
    with open(path) as f:
      holder = json.load(f)
  except (OSError, ValueError):
    return {}
  return holder if isinstance(holder, dict) else {}


def _describe(holder):
  if not holder:
    return "a run whose lock file cannot be read"
  return (f"{holder.get('command', 'a run')} on host {holder.get('host')}, PID "
          f"{holder.get('pid')}, started {holder.get('started')}")


def _in_use(model_dir, holder):
  path = os.path.join(model_dir, LOCK_FILE)
  return config_lib.StorageError(
      f"--model_dir={model_dir} is in use by {_describe(holder)}; wait for it to end or use "
      f"another --model_dir (if that process is gone, delete {path}).")


def refuse_if_held(model_dir):
  """Raises StorageError naming the holder if a live run holds model_dir's lock: a quick
  look before a run spends time on data and networks (`hold` still takes the lock)."""
  path = os.path.join(model_dir, LOCK_FILE)
  if os.path.exists(path):
    holder = _read(path)
    if not _is_stale(holder):
      raise _in_use(model_dir, holder)


def acquire(model_dir, command):
  """Creates model_dir/lock for this process; returns its path.

  Raises StorageError naming the holder if another live run holds it.
  """
  path = os.path.join(model_dir, LOCK_FILE)
  now = time.time()
  contents = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": now,
                         "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                         "command": command})
  for _ in range(3):  # A takeover that races another run's takeover tries again.
    try:
      descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      holder = _read(path)
      if not _is_stale(holder):
        raise _in_use(model_dir, holder) from None
      try:  # Renaming the stale lock aside succeeds for one of several runs taking it over.
        os.replace(path, f"{path}.stale-{os.getpid()}")
      except FileNotFoundError:
        continue
      os.remove(f"{path}.stale-{os.getpid()}")
      print(f"Warning: took over the lock of {_describe(holder)}, which is no longer "
            f"running.", file=sys.stderr, flush=True)
      continue
    with os.fdopen(descriptor, "w") as f:
      f.write(contents)
    return path
  raise config_lib.StorageError(f"--model_dir={model_dir}: could not take the lock {path}.")


@contextlib.contextmanager
def hold(model_dir, command):
  """Holds model_dir's lock for the block (`command` says what holds it: "train", "export")."""
  path = acquire(model_dir, command)
  try:
    yield path
  finally:
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)

"""One writer per model_dir: an exclusive lock held for a run's whole life.

The run holds an exclusive `flock` on `model_dir/lock`, a file that names the
holder (host, PID, start time, command) and is removed when the run (training
and its export, or `keras_gen.export`) ends. A second run into the folder is
refused with a StorageError naming the holder. The kernel releases the lock
when its process dies, even by SIGKILL, so a killed run's leftover file is simply
taken (with a warning naming the run that left it), and a reused PID cannot fool
the check.
"""

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time

from keras_gen import storage

LOCK_FILE = "lock"


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
  return storage.StorageError(
      f"--model_dir={model_dir} is in use by {_describe(holder)}; wait for it to end or use "
      f"another --model_dir.")


def _lock_or_refuse(model_dir, descriptor, operation):
  """flock(operation | LOCK_NB) on the open lock file; raises StorageError naming the holder
  (and closes `descriptor`) if another process holds it. Returns False when the filesystem
  has no locks, so the holder, if any, cannot be told from a run that died."""
  try:
    fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(descriptor)
    raise _in_use(model_dir, _read(os.path.join(model_dir, LOCK_FILE))) from None
  except OSError as error:
    if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
      raise
    print(f"Warning: this model_dir's filesystem does not support locks ({error.strerror}); "
          f"it is not protected from a second run.",
          file=sys.stderr, flush=True)
    return False
  return True


def refuse_if_held(model_dir):
  """Raises StorageError naming the holder if a run holds model_dir's lock: a quick look
  before a run spends time on data and networks (`hold` still takes the lock)."""
  try:
    descriptor = os.open(os.path.join(model_dir, LOCK_FILE), os.O_RDONLY)
  except (FileNotFoundError, NotADirectoryError, PermissionError):
    return  # No lock to look at; a folder that cannot hold one is refused by `acquire`.
  _lock_or_refuse(model_dir, descriptor, fcntl.LOCK_SH)
  os.close(descriptor)  # Also releases the shared lock.


def acquire(model_dir, command):
  """Locks model_dir/lock for this process and writes the holder into it; returns the
  open descriptor, which holds the lock until `release`.

  Raises StorageError naming the holder if another run holds it.
  """
  path = os.path.join(model_dir, LOCK_FILE)
  while True:
    try:
      descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
      raise _cannot_write(model_dir, error) from error
    locks = _lock_or_refuse(model_dir, descriptor, fcntl.LOCK_EX)
    # The holder before may have removed the file between our open and our lock: then
    # the lock is on a file no one else can find, and the new file must be locked instead.
    with contextlib.suppress(FileNotFoundError):
      if os.stat(path).st_ino == os.fstat(descriptor).st_ino:
        break
    os.close(descriptor)
  left_by = _read(path)
  if left_by:
    state = ("which is no longer running" if locks else
             "which may still be running (without locks this cannot be checked)")
    print(f"Warning: took over the lock of {_describe(left_by)}, {state}.",
          file=sys.stderr, flush=True)
  now = time.time()
  contents = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": now,
                         "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                         "command": command})
  try:
    os.ftruncate(descriptor, 0)
    os.write(descriptor, contents.encode())
  except OSError as error:
    release(model_dir, descriptor)  # An empty lock file would be reported as damaged.
    raise _cannot_write(model_dir, error) from error
  return descriptor


def _cannot_write(model_dir, error):
  """The StorageError for a lock file that cannot be created or written: a full disk, or a
  folder that is read-only or cannot hold files (/proc/self)."""
  path = os.path.join(model_dir, LOCK_FILE)
  if storage.is_disk_full(error):
    return storage.StorageError(
        f"No space left on device for --model_dir={model_dir} (writing {path}); nothing was "
        f"written: free space and rerun the same command.")
  return storage.StorageError(
      f"--model_dir={model_dir} is not writable (cannot create {path}: {error.strerror}); "
      f"make it writable, or work on a writable copy of it.")


def release(model_dir, descriptor):
  """Removes model_dir/lock and then drops the lock `acquire` took."""
  with contextlib.suppress(FileNotFoundError):
    os.remove(os.path.join(model_dir, LOCK_FILE))
  os.close(descriptor)


@contextlib.contextmanager
def hold(model_dir, command):
  """Holds model_dir's lock for the block (`command` says what holds it: "train", "export");
  yields the lock file's path."""
  descriptor = acquire(model_dir, command)
  try:
    yield os.path.join(model_dir, LOCK_FILE)
  finally:
    release(model_dir, descriptor)

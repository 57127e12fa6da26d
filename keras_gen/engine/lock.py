"""One writer per model_dir: an exclusive `flock` on model_dir/lock, a file naming the holder.
The kernel drops the lock when its process dies, so a killed run's file is taken over."""

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


def _lock_or_refuse(model_dir, descriptor, operation):
  """flock; StorageError naming another holder (closing `descriptor`), False without locks."""
  try:
    fcntl.flock(descriptor, operation | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(descriptor)
    holder = _describe(_read(os.path.join(model_dir, LOCK_FILE)))
    raise storage.StorageError(f"--model_dir={model_dir} is in use by {holder}; wait for it to "
                               f"end or use another --model_dir.") from None
  except OSError as error:
    if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
      raise
    print(f"Warning: this model_dir's filesystem does not support locks ({error.strerror}); "
          f"it is not protected from a second run.", file=sys.stderr, flush=True)
    return False
  return True


def refuse_if_held(model_dir):
  """StorageError naming the holder if a run holds model_dir's lock; a look, not a lock."""
  try:
    descriptor = os.open(os.path.join(model_dir, LOCK_FILE), os.O_RDONLY)
  except (FileNotFoundError, NotADirectoryError, PermissionError):
    return  # No lock to look at; a folder that cannot hold one is refused by `acquire`.
  _lock_or_refuse(model_dir, descriptor, fcntl.LOCK_SH)
  os.close(descriptor)  # Also releases the shared lock.


def acquire(model_dir, command):
  """Locks model_dir/lock and writes the holder into it; returns the descriptor holding the
  lock until `release`. StorageError naming the holder if another run holds it."""
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
  if left_by := _read(path):
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
  path = os.path.join(model_dir, LOCK_FILE)
  if storage.is_disk_full(error):
    return storage.StorageError(
        f"No space left on device for --model_dir={model_dir} (writing {path}); nothing was "
        f"written: free space and rerun the same command.")
  return storage.StorageError(
      f"--model_dir={model_dir} is not writable (cannot create {path}: {error.strerror}); "
      f"make it writable, or work on a writable copy of it.")


def release(model_dir, descriptor):
  with contextlib.suppress(FileNotFoundError):
    os.remove(os.path.join(model_dir, LOCK_FILE))
  os.close(descriptor)


@contextlib.contextmanager
def hold(model_dir, command):
  """Holds model_dir's lock for the block as `command`; yields the lock file's path."""
  descriptor = acquire(model_dir, command)
  try:
    yield os.path.join(model_dir, LOCK_FILE)
  finally:
    release(model_dir, descriptor)

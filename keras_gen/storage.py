"""Files and folders: atomic writes, disk-full and unwritable-folder errors, said in one sentence."""

import errno
import hashlib
import os
import tempfile


def check_writable(folder, elsewhere):
  """StorageError naming `folder` unless a file can be created in it (or in the existing
  folder above, where it would be made); `elsewhere` says what to do instead."""
  existing = os.path.abspath(folder)
  while not os.path.isdir(existing):
    if os.path.lexists(existing):
      raise StorageError(
          f"{folder} cannot be created: {existing} is a file, not a folder; {elsewhere}.")
    existing = os.path.dirname(existing)
  try:
    descriptor, probe = tempfile.mkstemp(prefix=".write-check-", dir=existing)
  except OSError as error:
    where = (f"{folder} is not writable" if existing == os.path.abspath(folder)
             else f"{folder} cannot be created: {existing} is not writable")
    raise StorageError(f"{where} ({error.strerror}); {elsewhere}.") from error
  os.close(descriptor)
  os.remove(probe)


class StorageError(RuntimeError):
  """A run's files cannot be used or written; the message names the file and what is intact."""


def is_disk_full(error):
  """True for an OSError or TensorFlow error that says the disk or quota is full."""
  return (getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
          or "No space left on device" in str(error) or "Disk quota exceeded" in str(error))


def write_atomically(path, contents):
  """Writes str or bytes to `path` (creating its folder) through a temporary name."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  partial = path + ".partial"
  with open(partial, "wb" if isinstance(contents, bytes) else "w") as f:
    f.write(contents)
  os.replace(partial, path)


def name_some(names, count=3):
  """The first `count` names, and "and N more" for the rest."""
  more = f" and {len(names) - count} more" if len(names) > count else ""
  return ", ".join(names[:count]) + more


def sha256_of(path):
  """The hex SHA-256 of the file at `path`, read in 1 MB blocks."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()

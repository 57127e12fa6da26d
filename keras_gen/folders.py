"""Whether a command can write its output folder, asked before the work whose result it holds."""

import os
import tempfile

from keras_gen import config as config_lib


def check_writable(folder, elsewhere):
  """Raises StorageError naming `folder` if a file cannot be created in it or, while it does
  not exist, in the nearest existing folder above it (where it would be made).

  `elsewhere` says how to write somewhere else (e.g. "pass --output=PATH"). The
  probe file is removed at once; nothing is left, not even `folder`.
  """
  existing = os.path.abspath(folder)
  while not os.path.isdir(existing):
    if os.path.lexists(existing):
      raise config_lib.StorageError(
          f"{folder} cannot be created: {existing} is a file, not a folder; {elsewhere}.")
    existing = os.path.dirname(existing)
  try:
    descriptor, probe = tempfile.mkstemp(prefix=".write-check-", dir=existing)
  except OSError as error:
    where = (f"{folder} is not writable" if existing == os.path.abspath(folder)
             else f"{folder} cannot be created: {existing} is not writable")
    raise config_lib.StorageError(f"{where} ({error.strerror}); {elsewhere}.") from error
  os.close(descriptor)
  os.remove(probe)

"""Whether the level files of a multi-resolution TFRecord dataset are whole.

At creation `dataset.json` records each level file's images and bytes,

  "files": {"NAME-r05.tfrecords": {"images": 40, "bytes": 125080}, ...}

and before a dataset is used every file's size is compared with it (os.stat,
so it is cheap): a file cut at a record boundary reads without a TensorFlow
error and would otherwise train on part of the data without a word. Only a file
whose size differs has its records counted, from the TFRecord framing: each
record is a uint64 length, a uint32 CRC of it, the data and a uint32 CRC of the
data, so counting reads 8 bytes per record.

Datasets without these records (written by the original ProGAN tool, or by
keras_gen before they were recorded) still load, without a warning: their
records are counted from the framing instead, and a level that ends in a cut-off
record or holds fewer images than another level (or than dataset.json's
num_images) is refused. A record whose bytes changed is found by TensorFlow's
CRC check when it is read (`tensorflow_reason`).
"""

import os
import re
import struct

from keras_gen.data.errors import DataError

RECREATE = "recreate the dataset with tools/dataset_tool.py"
_RECORD_OVERHEAD = 16  # Length, its CRC and the data's CRC.
_LEVEL_PATTERN = re.compile(r"-r(\d\d)(-\d{5}-of-\d{5})?\.tfrecords$")


def count_records(file_path):
  """(whole records, bytes after the last whole record) of a TFRecord file.

  Reads only each record's length; the CRCs are left to TensorFlow's reader.
  """
  size = os.path.getsize(file_path)
  records = position = 0
  with open(file_path, "rb") as f:
    while size - position >= _RECORD_OVERHEAD:
      f.seek(position)
      (length,) = struct.unpack("<Q", f.read(8))
      if position + _RECORD_OVERHEAD + length > size:
        break
      records, position = records + 1, position + _RECORD_OVERHEAD + length
  return records, size - position


def describe_files(directory, images_per_file):
  """The "files" entry of dataset.json: {name: {"images", "bytes"}} of each file written."""
  return {name: {"images": int(images), "bytes": os.path.getsize(os.path.join(directory, name))}
          for name, images in sorted(images_per_file.items())}


def recorded_files(path, metadata):
  """dataset.json's {name: {"images", "bytes"}}, or None for a dataset that records none."""
  files = metadata.get("files")
  if files is None:
    return None
  if not isinstance(files, dict) or not all(
      isinstance(entry, dict) and isinstance(entry.get("images"), int)
      and isinstance(entry.get("bytes"), int) for entry in files.values()):
    raise DataError(f"Dataset {path} has a damaged dataset.json: its \"files\" entry is not "
                    f"{{name: {{\"images\": N, \"bytes\": B}}}}; {RECREATE}.")
  return files


def check(path, levels, metadata):
  """Refuses a level file that is missing, unrecorded, or of another size than recorded.

  levels: {level: file paths} as found in the folder `path`; metadata: its dataset.json.
  """
  recorded = recorded_files(path, metadata)
  if recorded is None:
    return
  present = {os.path.basename(file_path): file_path
             for paths in levels.values() for file_path in paths}
  for name, expected in recorded.items():
    if name not in present:
      raise DataError(f"Dataset {path} has no file {name}, which its dataset.json records with "
                      f"{_images(expected['images'])} ({expected['bytes']} bytes); {RECREATE}.")
    size = _size(present[name])
    if size != expected["bytes"]:
      raise DataError(f"Dataset {path} level {_level_of(name)} ({name}) is truncated or "
                      f"corrupt: {_holds(present[name], expected)}; {RECREATE}.")
  unrecorded = sorted(set(present) - set(recorded))
  if unrecorded:
    raise DataError(f"Dataset {path} holds {unrecorded[0]}, a file its dataset.json does not "
                    f"record (it records {len(recorded)}, such as {min(recorded)}); move it out "
                    f"of the folder or {RECREATE}.")


def damage(paths, metadata):
  """(file name, what is wrong with it) for the first of `paths` that is cut short or differs
  from dataset.json, or None when every file looks whole."""
  recorded = metadata.get("files") if isinstance(metadata.get("files"), dict) else {}
  for file_path in paths:
    name = os.path.basename(file_path)
    expected = recorded.get(name)
    if expected is not None and _size(file_path) != expected.get("bytes"):
      return name, _holds(file_path, expected)
    if expected is None and _counted(file_path)[1]:
      return name, _holds(file_path, None)
  return None


def count_level(path, level, level_paths):
  """The records of a level whose sizes dataset.json does not record, counted from their
  framing (8 bytes read per record)."""
  total = 0
  for file_path in level_paths:
    records, tail = _counted(file_path)
    if tail:
      raise DataError(f"Dataset {path} level r{level:02d} ({os.path.basename(file_path)}) is "
                      f"truncated or corrupt: {_holds(file_path, None)}; {RECREATE}.")
    total += records
  return total


def check_counts(path, files, counts, num_images):
  """Every level holds the same images, as many as dataset.json's num_images (if any), so a
  level with fewer lost some."""
  most = max(counts.values()) if num_images is None else num_images
  for level, count in sorted(counts.items()):
    if count != most:
      expected = (f"dataset.json records {most}" if num_images is not None else
                  f"level r{max(counts, key=counts.get):02d} holds {most} and every level holds "
                  f"the same images")
      raise DataError(
          f"Dataset {path} level r{level:02d} ({', '.join(map(os.path.basename, files[level]))})"
          f" is truncated or corrupt: the level holds {_images(count)}, but {expected}; "
          f"{RECREATE}.")


def tensorflow_reason(error):
  """The line of an OpError's message that says what is wrong with a record, without the
  function, node and op names TensorFlow wraps it in."""
  # An eager error says it on its first line, a graph error after the Python stack.
  lines = [line for line in error.message.splitlines() if line.strip()] or [""]
  text = next((line for line in lines if re.search(r"\brecord\b", line)), lines[0])
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
  text = re.sub(r"\s*(\[Op:|\[\[\{\{node ).*$", "", text).strip().rstrip(".:")
  if text.startswith("corrupted record"):
    return f"a record does not match its checksum ({text})"
  if text.startswith("truncated record"):
    where = text.split("'")[0]  # TensorFlow's message has a stray quote after the offset.
    return f"a record is cut short ({where})"
  return text


def _holds(file_path, expected):
  """'the file holds 19 whole images and 1573 bytes of a cut-off one (62000 bytes), but its
  dataset.json records 40 images (125080 bytes)'."""
  records, tail = _counted(file_path)
  holds = (f"{records} whole image{'' if records == 1 else 's'} and {tail} bytes of a cut-off "
           f"one" if tail else _images(records))
  text = f"the file holds {holds} ({_size(file_path)} bytes)"
  if expected is not None:
    text += (f", but its dataset.json records {_images(expected['images'])} "
             f"({expected['bytes']} bytes)")
  return text


def _counted(file_path):
  try:
    return count_records(file_path)
  except OSError as e:
    raise DataError(f"Dataset file {file_path} cannot be read ({e.strerror}).") from e


def _size(file_path):
  try:
    return os.path.getsize(file_path)
  except OSError as e:
    raise DataError(f"Dataset file {file_path} cannot be read ({e.strerror}).") from e


def _level_of(name):
  return f"r{_LEVEL_PATTERN.search(name)[1]}"


def _images(count):
  return f"{count} image{'' if count == 1 else 's'}"

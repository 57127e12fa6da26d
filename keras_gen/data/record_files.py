"""Whether a multi-resolution TFRecord dataset's level files are whole (docs/data.md)."""

import os
import re
import struct

from keras_gen.data.errors import DataError

RECREATE = "recreate the dataset with tools/dataset_tool.py"
_RECORD_OVERHEAD = 16  # Length, its CRC and the data's CRC.
FILE_PATTERN = re.compile(
    r"^(?P<name>.+)-r(?P<level>\d\d)(-(?P<shard>\d{5})-of-(?P<shards>\d{5}))?\.tfrecords$")


def count_records(file_path):
  """(whole records, bytes after the last whole record), reading only the lengths."""
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
  """Refuses a file of `levels` unrecorded, missing or of another size than `metadata` says."""
  recorded = recorded_files(path, metadata)
  if recorded is None:
    return
  present = {os.path.basename(file_path): file_path
             for paths in levels.values() for file_path in paths}
  for name, expected in recorded.items():
    if name not in present:
      raise DataError(f"Dataset {path} has no file {name}, which its dataset.json records with "
                      f"{_images(expected['images'])} ({expected['bytes']} bytes); {RECREATE}.")
    if _size(present[name]) != expected["bytes"]:
      raise DataError(f"Dataset {path} level r{FILE_PATTERN.match(name)['level']} ({name}) is "
                      f"truncated or corrupt: {_holds(present[name], expected)}; {RECREATE}.")
  unrecorded = sorted(set(present) - set(recorded))
  if unrecorded:
    raise DataError(f"Dataset {path} holds {unrecorded[0]}, a file its dataset.json does not "
                    f"record (it records {len(recorded)}, such as {min(recorded)}); move it out "
                    f"of the folder or {RECREATE}.")


def damage(paths, metadata):
  """(file name, what is wrong) for the first of `paths` cut short or unlike dataset.json."""
  recorded = metadata.get("files") if isinstance(metadata.get("files"), dict) else {}
  for file_path in paths:
    name = os.path.basename(file_path)
    expected = recorded.get(name)
    if (_counted(file_path)[1] if expected is None
        else _size(file_path) != expected.get("bytes")):
      return name, _holds(file_path, expected)
  return None


def level_counts(path, levels, metadata):
  """{level: images}, as dataset.json records them, else counted from the records' framing,
  refusing a level cut short or with fewer images than another level or num_images says."""
  recorded = recorded_files(path, metadata)
  if recorded is not None:  # Sizes checked by `check` (tfrecords.level_files).
    return {level: sum(recorded[os.path.basename(p)]["images"] for p in paths)
            for level, paths in levels.items()}
  counts = {level: 0 for level in levels}
  for level, paths in levels.items():
    for file_path in paths:
      records, tail = _counted(file_path)
      if tail:
        raise DataError(f"Dataset {path} level r{level:02d} ({os.path.basename(file_path)}) is "
                        f"truncated or corrupt: {_holds(file_path, None)}; {RECREATE}.")
      counts[level] += records
  num_images = metadata.get("num_images")
  most = max(counts.values()) if num_images is None else num_images
  for level, count in sorted(counts.items()):
    if count != most:
      expected = (f"dataset.json records {most}" if num_images is not None else
                  f"level r{max(counts, key=counts.get):02d} holds {most} and every level holds "
                  f"the same images")
      names = ", ".join(map(os.path.basename, levels[level]))
      raise DataError(f"Dataset {path} level r{level:02d} ({names}) is truncated or corrupt: the "
                      f"level holds {_images(count)}, but {expected}; {RECREATE}.")
  return counts


def tensorflow_reason(error):
  """What an OpError's message says is wrong with a record, without function and op names."""
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
  """'the file holds 19 whole images and 1573 bytes of a cut-off one (62000 bytes), but ...'."""
  records, tail = _counted(file_path)
  holds = (f"{records} whole image{'' if records == 1 else 's'} and {tail} bytes of a cut-off "
           f"one" if tail else _images(records))
  text = f"the file holds {holds} ({_size(file_path)} bytes)"
  if expected is not None:
    text += (f", but its dataset.json records {_images(expected['images'])} "
             f"({expected['bytes']} bytes)")
  return text


def _counted(file_path, read=count_records):
  try:
    return read(file_path)
  except OSError as e:
    raise DataError(f"Dataset file {file_path} cannot be read ({e.strerror}).") from e


def _size(file_path):
  return _counted(file_path, os.path.getsize)


def _images(count):
  return f"{count} image{'' if count == 1 else 's'}"

"""Progressive GAN's multi-resolution TFRecord datasets (Karras et al. 2018; docs/data.md)."""

import json
import math
import os
import shutil
import tempfile

import numpy as np

from keras_gen.data import files
from keras_gen.data import pixels
from keras_gen.data import record_files
from keras_gen.data.errors import DataError
from keras_gen.lazy import tensorflow as tf

MIN_LEVEL = 2  # 4x4, the lowest level of detail.
METADATA_FILE = "dataset.json"
_SHUFFLE_BUFFER = 4096


def is_power_of_two(value):
  return value >= 1 and value & (value - 1) == 0


def is_level_resolution(value):
  """True for a power of two of at least 2^MIN_LEVEL = 4: a side a level can have."""
  return is_power_of_two(value) and value >= 2 ** MIN_LEVEL


def level_file_name(name, level, shard=0, num_shards=1):
  """NAME-rNN.tfrecords, or NAME-rNN-SSSSS-of-TTTTT.tfrecords for a sharded level."""
  if num_shards == 1:
    return f"{name}-r{level:02d}.tfrecords"
  return f"{name}-r{level:02d}-{shard:05d}-of-{num_shards:05d}.tfrecords"


def box_filter_levels(images):
  """uint8 [N, R, R, C] -> {level: uint8 [N, 2^level, 2^level, C]}, 2x2 float means rounded once."""
  top = int(math.log2(images.shape[1]))
  levels = {top: images}
  current = images.astype(np.float32)
  for level in range(top - 1, MIN_LEVEL - 1, -1):
    current = 0.25 * (current[:, 0::2, 0::2] + current[:, 0::2, 1::2] +
                      current[:, 1::2, 0::2] + current[:, 1::2, 1::2])
    levels[level] = np.rint(current).clip(0, 255).astype(np.uint8)
  return levels


def _example(image, label):
  features = {
      "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=[
          image.shape[2], image.shape[0], image.shape[1]])),
      "data": tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[np.ascontiguousarray(image.transpose(2, 0, 1)).tobytes()])),
  }
  if label is not None:
    features["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))
  # Protobuf's map order varies between processes otherwise; a source must give the same bytes.
  return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(
      deterministic=True)


def write_dataset(output_dir, name, num_images, read_images, labels=None, seed=0,
                  shard_size=0, chunk_size=1024, source="", domain=""):
  """Writes dataset folder `output_dir` from read_images(int64 indices [k]) -> uint8 [k, R, R, C]
  (nothing is left on error); returns its metadata. shard_size 0: one file per level."""
  if os.path.exists(output_dir):
    raise DataError(f"Output folder {output_dir} already exists; choose a new one.")
  if num_images < 1:
    raise DataError(f"There are no images to write to {output_dir}.")
  parent = os.path.dirname(os.path.abspath(output_dir))
  os.makedirs(parent, exist_ok=True)
  partial = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.partial-", dir=parent)
  try:
    order = np.random.default_rng(seed).permutation(num_images)
    num_shards = 1 if shard_size <= 0 else max(1, math.ceil(num_images / shard_size))
    per_shard = math.ceil(num_images / num_shards)
    writers, shape, images_per_file = {}, None, {}
    for start in range(0, num_images, chunk_size):
      indices = order[start:start + chunk_size]
      images = np.asarray(read_images(indices))
      _check_images(images, shape, output_dir)
      shape = images.shape[1:]
      for level, level_images in box_filter_levels(images).items():
        for offset, image in enumerate(level_images):
          label = None if labels is None else labels[indices[offset]]
          file_name = level_file_name(name, level, (start + offset) // per_shard, num_shards)
          if file_name not in writers:
            writers[file_name] = tf.io.TFRecordWriter(os.path.join(partial, file_name))
          writers[file_name].write(_example(image, label))
          images_per_file[file_name] = images_per_file.get(file_name, 0) + 1
    for writer in writers.values():
      writer.close()
    metadata = {
        "name": name, "resolution": int(shape[0]), "channels": int(shape[2]),
        "num_images": int(num_images),
        "levels": list(range(MIN_LEVEL, int(math.log2(shape[0])) + 1)),
        "num_shards": num_shards, "has_labels": labels is not None, "seed": seed,
        "source": source, "format": "ProGAN TFRecords: shape int64 [C, H, W], data CHW uint8",
        "files": record_files.describe_files(partial, images_per_file)}
    if domain:
      metadata["domain"] = domain
    with open(os.path.join(partial, METADATA_FILE), "w") as f:
      json.dump(metadata, f, indent=2)
    os.replace(partial, output_dir)
    return metadata
  finally:
    shutil.rmtree(partial, ignore_errors=True)


def _check_images(images, expected_shape, output_dir):
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise DataError(f"Images for {output_dir} have dtype {images.dtype} and shape "
                    f"{images.shape}; expected uint8 [N, R, R, C] with C = 1 or 3.")
  height, width = images.shape[1:3]
  if height != width or not is_level_resolution(height):
    raise DataError(f"Images for {output_dir} are {height}x{width}; expected square images "
                    f"whose size is a power of two, at least 4 (pad or resize them).")
  if expected_shape is not None and images.shape[1:] != expected_shape:
    raise DataError(f"Images for {output_dir} changed shape from {expected_shape} to "
                    f"{images.shape[1:]}; every image must have the same shape.")


def prepare_arrays(images, pad_to=0, resolution=0, source="the source"):
  """uint8 [N, H, W, C] zero-padded to pad_to, then resized to resolution: power-of-two squares."""
  for value, flag in ((pad_to, "--pad_to"), (resolution, "--resolution")):
    if value and not is_level_resolution(value):
      raise DataError(f"{flag}={value} is not a power of two of at least 4.")
  height, width = images.shape[1:3]
  if pad_to:
    if pad_to < max(height, width):
      raise DataError(f"{source} holds {height}x{width} images, larger than --pad_to={pad_to}.")
    top, left = (pad_to - height) // 2, (pad_to - width) // 2
    images = np.pad(images, [(0, 0), (top, pad_to - height - top),
                             (left, pad_to - width - left), (0, 0)])
  if resolution:
    images = files.crop_and_resize(images, resolution)
  height, width = images.shape[1:3]
  if height != width or not is_level_resolution(height):
    suggestion = 2 ** math.ceil(math.log2(max(height, width, 4)))
    raise DataError(f"{source} holds {height}x{width} images, not a power-of-two square; "
                    f"pass --pad_to or --resolution (e.g. {suggestion}).")
  return images


def create_from_arrays(output_dir, name, images, labels=None, seed=0, shard_size=0, source="",
                       domain=""):
  """Writes uint8 [N, R, R, C] images (and int64 labels [N]) as a dataset."""
  return write_dataset(output_dir, name, len(images), lambda indices: images[indices],
                       labels=labels, seed=seed, shard_size=shard_size, source=source,
                       domain=domain)


def create_from_folder(output_dir, name, folder, resolution, channels=0, seed=0, shard_size=0,
                       domain=""):
  """Writes every image under `folder`, resized; channels 0 takes the first image's."""
  if not is_level_resolution(resolution):
    raise DataError(f"--resolution={resolution} must be a power of two of at least 4 for an "
                    f"image folder.")
  paths = files.image_paths(folder)
  channels = channels or files.decode_image(paths[0]).shape[-1]

  def read_images(indices):
    images = []
    for index in indices:
      image = files.decode_image(paths[index])
      if image.shape[-1] != channels:
        if channels == 1:
          raise DataError(f"Image file {paths[index]} is RGB but the dataset is grey (from "
                          f"{paths[0]}); pass --channels=3.")
        image = np.repeat(image, 3, axis=-1)
      images.append(files.crop_and_resize(image[None], resolution)[0])
    return np.stack(images)

  return write_dataset(output_dir, name, len(paths), read_images, seed=seed, shard_size=shard_size,
                       chunk_size=256, source=f"folder:{folder}", domain=domain)


def level_files(path):
  """{level: sorted file paths}; DataError if none, or one is missing or of the wrong size."""
  levels = _list_level_files(path)
  record_files.check(path, levels, read_metadata(path))
  return levels


def _list_level_files(path):
  if os.path.isfile(path):
    raise DataError(f"Dataset folder {path} is a file, not a folder.")
  if not os.path.isdir(path):
    raise DataError(f"Dataset folder {path} does not exist; create one with "
                    f"`python -m tools.dataset_tool`.")
  try:
    names = sorted(os.listdir(path))
  except OSError as e:
    raise DataError(f"Dataset folder {path} cannot be read ({e.strerror}).") from e
  levels = {}
  for name in names:
    match = record_files.FILE_PATTERN.match(name)
    if match:
      levels.setdefault(int(match["level"]), []).append(os.path.join(path, name))
  if not levels:
    raise DataError(f"Dataset folder {path} holds no NAME-rNN.tfrecords files.")
  return levels


def parse_example(serialized, resolution=None, channels=None):
  """One record -> (uint8 image [H, W, C], static given resolution and channels; label or -1)."""
  features = tf.io.parse_single_example(serialized, {
      "shape": tf.io.FixedLenFeature([3], tf.int64),
      "data": tf.io.FixedLenFeature([], tf.string),
      "label": tf.io.FixedLenFeature([1], tf.int64, default_value=[-1])})
  image = _chw_to_hwc(tf.io.decode_raw(features["data"], tf.uint8), features["shape"])
  if resolution is not None:
    image = tf.ensure_shape(image, [resolution, resolution, channels])
  return image, features["label"][0]


def _chw_to_hwc(data, shape):
  """Flat uint8 CHW bytes -> [H, W, C] by a gather: TF 2.21 logs an error for a uint8 Transpose."""
  shape = tf.cast(shape, tf.int32)
  channels, pixels = shape[0], shape[1] * shape[2]
  # Element (p, c) of the HWC image is byte c * pixels + p of the CHW data.
  indices = tf.range(pixels)[:, None] + pixels * tf.range(channels)[None, :]
  return tf.reshape(tf.gather(data, tf.reshape(indices, [-1])), [shape[1], shape[2], channels])


def _paths_of_level(path, level):
  levels = level_files(path)
  if level not in levels:
    raise DataError(f"Dataset folder {path} has no level r{level:02d} ({2 ** level}x{2 ** level}); "
                    f"it has levels {sorted(levels)}.")
  return levels[level]


def read_level(path, level, limit=None):
  """The images of one level in stored order: (uint8 [N, R, R, C], int64 labels [N] or None)."""
  dataset = tf.data.TFRecordDataset(_paths_of_level(path, level)).map(parse_example)
  if limit is not None:
    dataset = dataset.take(limit)
  try:
    records = list(dataset.as_numpy_iterator())
  except tf.errors.OpError as error:
    raise level_error(path, level, error) from error
  if not records:
    raise DataError(f"Dataset folder {path} level r{level:02d} holds no records.")
  labels = np.asarray([label for _, label in records], np.int64)
  return np.stack([image for image, _ in records]), (None if np.all(labels < 0) else labels)


def level_error(path, level, error, advice=record_files.RECREATE):
  """The DataError naming the damaged file of a level for an OpError met reading it."""
  # Listed without the size check, which would raise its own sentence without `advice`.
  paths = _list_level_files(path).get(level, [])
  names, reason = record_files.damage(paths, read_metadata(path)) or (
      ", ".join(os.path.basename(p) for p in paths), record_files.tensorflow_reason(error))
  return DataError(f"Dataset {path} level r{level:02d} ({names}) is truncated or corrupt: "
                   f"{reason}; {advice}.")


def read_metadata(path):
  """dataset.json of a dataset folder as a dict; {} for one the original tool wrote."""
  metadata_path = os.path.join(path, METADATA_FILE)
  if not os.path.exists(metadata_path):
    return {}
  try:
    with open(metadata_path) as f:
      metadata = json.load(f)
  except OSError as e:
    raise DataError(f"Dataset {path}'s dataset.json cannot be read ({e.strerror}).") from e
  except ValueError as e:
    raise DataError(f"Dataset {path} has a damaged dataset.json ({e}); "
                    f"{record_files.RECREATE}.") from e
  if not isinstance(metadata, dict):
    raise DataError(f"Dataset {path} has a damaged dataset.json (a JSON "
                    f"{type(metadata).__name__}, not an object); {record_files.RECREATE}.")
  return metadata


def info(path):
  """dataset.json plus "resolution", "channels", "levels" ({level: count}), "files", ..."""
  levels = level_files(path)
  metadata = read_metadata(path)
  counts = record_files.level_counts(path, levels, metadata)
  top = max(levels)
  try:
    image, label = next(iter(tf.data.TFRecordDataset(levels[top][:1]).map(parse_example)))
  except tf.errors.OpError as error:
    raise level_error(path, top, error) from error
  except StopIteration as error:
    raise DataError(f"Dataset folder {path} level r{top:02d} holds no records.") from error
  return dict(metadata, resolution=int(image.shape[0]), channels=int(image.shape[2]),
              levels=counts, top_level=top,
              # Else the first record tells, though it may be -1 where others are not.
              has_labels=metadata.get("has_labels", bool(label >= 0)),
              files={level: list(map(os.path.basename, paths)) for level, paths in levels.items()})


def input_fn(path, level, global_batch_size, seed, start_index=0):
  """A function of an InputContext giving a level's batches from element `start_index` on:
  {"images": float32 [b, R, R, C] in [-1, 1], "labels": int64 [b]}, ordered as docs/data.md."""
  level_paths = _paths_of_level(path, level)
  description = info(path)
  resolution, channels = 2 ** level, description["channels"]
  block_size = max(16, min(_SHUFFLE_BUFFER, 2 ** 28 // (resolution * resolution * channels)))
  first_epoch, first_offset = divmod(int(start_index), description["levels"][level])

  def epoch_records(epoch):
    epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
    paths = tf.random.experimental.stateless_shuffle(tf.constant(level_paths), epoch_seed)
    records = tf.data.Dataset.from_tensor_slices(paths).interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(level_paths), 8), block_length=16,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # A buffer shuffle cannot take a per-epoch seed; blocks are shuffled statelessly instead.
    def shuffle_block(block_index, block):
      block_seed = tf.random.experimental.stateless_fold_in(epoch_seed, block_index)
      return tf.data.Dataset.from_tensor_slices(
          tf.random.experimental.stateless_shuffle(block, block_seed))

    records = records.batch(block_size).enumerate().flat_map(shuffle_block)
    start = tf.where(tf.equal(epoch, first_epoch), tf.constant(first_offset, tf.int64),
                     tf.constant(0, tf.int64))
    return records.skip(start)

  def to_batch(images, labels):
    return {"images": pixels.from_uint8(images), "labels": labels}

  def dataset_fn(input_context):
    per_replica = input_context.get_per_replica_batch_size(global_batch_size)
    dataset = tf.data.Dataset.counter(start=first_epoch).flat_map(epoch_records)
    dataset = dataset.map(lambda record: parse_example(record, resolution, channels),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(per_replica, drop_remainder=True)
    dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    dataset = dataset.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)

  return dataset_fn

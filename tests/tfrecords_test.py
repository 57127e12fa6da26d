"""Multi-resolution TFRecords: writing every level, reading the original ProGAN format, streaming."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import data
from keras_gen.data import tfrecords


def _images(count=12, size=16, channels=1, seed=0):
  return np.random.default_rng(seed).integers(0, 256, size=(count, size, size, channels),
                                              dtype=np.uint8)


def _block_mean(images, factor):
  n, size, _, channels = images.shape
  blocks = images.astype(np.float64).reshape(n, size // factor, factor, size // factor, factor,
                                             channels)
  return blocks.mean(axis=(2, 4))


def test_every_level_round_trips_as_the_box_filter_of_the_full_images(tmp_path):
  images, labels = _images(channels=3), np.arange(12, dtype=np.int64)
  metadata = tfrecords.create_from_arrays(str(tmp_path / "ds"), "ds", images, labels, seed=3)
  assert metadata["levels"] == [2, 3, 4] and metadata["num_images"] == 12
  order = np.random.default_rng(3).permutation(12)
  top, top_labels = tfrecords.read_level(str(tmp_path / "ds"), 4)
  np.testing.assert_array_equal(top, images[order])
  np.testing.assert_array_equal(top_labels, labels[order])
  for level, factor in ((3, 2), (2, 4)):
    level_images, level_labels = tfrecords.read_level(str(tmp_path / "ds"), level)
    assert level_images.shape == (12, 2 ** level, 2 ** level, 3)
    np.testing.assert_array_equal(level_images, np.rint(_block_mean(images[order], factor)))
    np.testing.assert_array_equal(level_labels, labels[order])
  # Each level is the 2x2 average of the stored level above, up to rounding.
  eight, _ = tfrecords.read_level(str(tmp_path / "ds"), 3)
  four, _ = tfrecords.read_level(str(tmp_path / "ds"), 2)
  assert np.abs(four - _block_mean(eight, 2)).max() <= 1.0


def test_box_filter_levels_of_a_known_image():
  image = np.array([[0, 4, 8, 8], [4, 0, 8, 8], [1, 1, 2, 2], [1, 1, 2, 3]], np.uint8)
  levels = tfrecords.box_filter_levels(image[None, :, :, None])
  assert sorted(levels) == [2]  # 4x4 is the lowest level.
  images = np.kron(image, np.ones([2, 2], np.uint8))[None, :, :, None]
  levels = tfrecords.box_filter_levels(images)
  np.testing.assert_array_equal(levels[2][0, ..., 0], image)


def test_the_reader_accepts_a_file_in_the_original_progan_record_format(tmp_path):
  # As the original dataset_tool.py writes it: only `shape` (CHW) and `data`, no label.
  images = _images(count=3, size=8, channels=3)
  folder = tmp_path / "original"
  folder.mkdir()
  for level in (2, 3):
    with tf.io.TFRecordWriter(str(folder / f"original-r{level:02d}.tfrecords")) as writer:
      for image in tfrecords.box_filter_levels(images)[level]:
        chw = image.transpose(2, 0, 1)
        example = tf.train.Example(features=tf.train.Features(feature={
            "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=chw.shape)),
            "data": tf.train.Feature(bytes_list=tf.train.BytesList(value=[chw.tobytes()]))}))
        writer.write(example.SerializeToString())
  read, labels = tfrecords.read_level(str(folder), 3)
  np.testing.assert_array_equal(read, images)
  assert labels is None
  description = tfrecords.info(str(folder))
  assert description["levels"] == {2: 3, 3: 3} and description["resolution"] == 8
  source = data.load(f"progan:{folder}")
  assert source.examples.shape == (3, 8, 8, 3)


def test_shards_hold_the_same_images_in_the_same_order(tmp_path):
  images = _images(count=10, size=8)
  tfrecords.create_from_arrays(str(tmp_path / "one"), "d", images, seed=1)
  tfrecords.create_from_arrays(str(tmp_path / "sharded"), "d", images, seed=1, shard_size=4)
  files = tfrecords.level_files(str(tmp_path / "sharded"))
  assert [os.path.basename(p) for p in files[3]] == [
      "d-r03-00000-of-00003.tfrecords", "d-r03-00001-of-00003.tfrecords",
      "d-r03-00002-of-00003.tfrecords"]
  np.testing.assert_array_equal(tfrecords.read_level(str(tmp_path / "one"), 3)[0],
                                tfrecords.read_level(str(tmp_path / "sharded"), 3)[0])


def _stream(path, level, batch_size, start_index, batches):
  dataset = tfrecords.input_fn(path, level, batch_size, seed=5, start_index=start_index)(
      tf.distribute.InputContext())
  return np.concatenate([batch["images"].numpy() for batch in dataset.take(batches)])


def test_a_stream_resumed_at_image_k_continues_the_uninterrupted_stream(tmp_path):
  path = str(tmp_path / "ds")
  tfrecords.create_from_arrays(path, "ds", _images(count=10, size=8), shard_size=3)
  whole = _stream(path, 3, 4, 0, 8)  # 32 images: three epochs and a bit.
  resumed = _stream(path, 3, 4, 12, 5)
  np.testing.assert_array_equal(resumed, whole[12:32])
  assert whole.shape == (32, 8, 8, 1) and whole.min() >= -1.0 and whole.max() <= 1.0
  # Every epoch is a permutation of the level, and epochs differ in order.
  first, second = whole[:10].reshape(10, -1), whole[10:20].reshape(10, -1)
  assert sorted(map(bytes, first)) == sorted(map(bytes, second))
  assert not np.array_equal(first, second)


def test_existing_output_and_bad_images_are_refused_without_leftovers(tmp_path):
  with pytest.raises(data.DataError, match="28x28 images, not a power-of-two square"):
    tfrecords.prepare_arrays(_images(size=28), source="npz file x.npz")
  padded = tfrecords.prepare_arrays(_images(count=2, size=28), pad_to=32)
  assert padded.shape == (2, 32, 32, 1) and padded[:, :2].max() == 0
  with pytest.raises(data.DataError, match="--pad_to=24 is not a power of two"):
    tfrecords.prepare_arrays(_images(size=20), pad_to=24)
  (tmp_path / "taken").mkdir()
  with pytest.raises(data.DataError, match="taken already exists"):
    tfrecords.create_from_arrays(str(tmp_path / "taken"), "d", _images())
  with pytest.raises(data.DataError, match="12x12; expected square images whose size is a power"):
    tfrecords.create_from_arrays(str(tmp_path / "bad"), "d", _images(size=12))
  assert sorted(os.listdir(tmp_path)) == ["taken"]


def test_a_folder_without_records_is_named_in_the_error(tmp_path):
  with pytest.raises(data.DataError, match=f"{tmp_path} holds no NAME-rNN.tfrecords"):
    data.load(f"progan:{tmp_path}")

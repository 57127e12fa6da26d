"""Multi-resolution TFRecords: writing every level, reading the original ProGAN format, streaming."""

import json
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


# Whole files: the images and bytes dataset.json records for each, checked before any use.


def _grey_dataset(tmp_path, name="ds", count=10, size=8, **kwargs):
  path = str(tmp_path / name)
  tfrecords.create_from_arrays(path, name, _images(count=count, size=size), **kwargs)
  return path


def _record_bytes(size):
  """Bytes of one record this tool writes for an unlabelled size x size image: the Example and
  16 bytes of framing (whatever the pixels, as its fields have fixed sizes)."""
  image = np.zeros([size, size, 1], np.uint8)
  return len(tfrecords._example(image, None)) + 16  # pylint: disable=protected-access


def _metadata(path):
  with open(os.path.join(path, "dataset.json")) as f:
    return json.load(f)


def test_dataset_json_records_the_images_and_bytes_of_every_file(tmp_path):
  path = _grey_dataset(tmp_path, count=10, shard_size=4)
  recorded = _metadata(path)["files"]
  names = sorted(os.listdir(path))
  assert sorted(recorded) == [name for name in names if name.endswith(".tfrecords")]
  assert len(recorded) == 6  # 2 levels of 3 shards.
  for name, entry in recorded.items():
    assert entry["bytes"] == os.path.getsize(os.path.join(path, name)), name
  assert [recorded[f"ds-r03-0000{shard}-of-00003.tfrecords"]["images"]
          for shard in range(3)] == [4, 4, 2]
  assert recorded["ds-r03-00000-of-00003.tfrecords"]["bytes"] == 4 * _record_bytes(8)


def test_a_level_cut_at_a_record_boundary_is_refused_by_every_reader_naming_both_counts(
    tmp_path):
  path = _grey_dataset(tmp_path, count=10)
  level_file = os.path.join(path, "ds-r03.tfrecords")
  whole = os.path.getsize(level_file)
  os.truncate(level_file, whole // 2)
  message = (f"Dataset {path} level r03 (ds-r03.tfrecords) is truncated or corrupt: the file "
             f"holds 5 images ({whole // 2} bytes), but its dataset.json records 10 images "
             f"({whole} bytes); recreate the dataset with tools/dataset_tool.py.")
  for read in (lambda: tfrecords.info(path), lambda: tfrecords.read_level(path, 2),
               lambda: data.load(f"progan:{path}"), lambda: data.stored_resolutions(
                   f"progan:{path}"), lambda: tfrecords.input_fn(path, 3, 2, seed=0)):
    with pytest.raises(data.DataError) as error:
      read()
    assert str(error.value) == message


def test_a_level_cut_inside_a_record_is_refused_naming_the_whole_and_cut_off_parts(tmp_path):
  path = _grey_dataset(tmp_path, count=10)
  level_file = os.path.join(path, "ds-r02.tfrecords")
  whole, one = os.path.getsize(level_file), _record_bytes(4)
  os.truncate(level_file, 7 * one + 9)
  with pytest.raises(data.DataError) as error:
    tfrecords.info(path)
  assert str(error.value) == (
      f"Dataset {path} level r02 (ds-r02.tfrecords) is truncated or corrupt: the file holds 7 "
      f"whole images and 9 bytes of a cut-off one ({7 * one + 9} bytes), but its dataset.json "
      f"records 10 images ({whole} bytes); recreate the dataset with tools/dataset_tool.py.")


def test_a_missing_or_unrecorded_level_file_is_refused_in_one_sentence(tmp_path):
  path = _grey_dataset(tmp_path, count=3)
  other = _grey_dataset(tmp_path, name="other", count=3)
  os.rename(os.path.join(other, "other-r03.tfrecords"), os.path.join(path, "other-r03.tfrecords"))
  with pytest.raises(data.DataError) as error:
    tfrecords.info(path)
  assert str(error.value) == (
      f"Dataset {path} holds other-r03.tfrecords, a file its dataset.json does not record (it "
      f"records 2, such as ds-r02.tfrecords); move it out of the folder or recreate the dataset "
      f"with tools/dataset_tool.py.")
  os.remove(os.path.join(path, "ds-r02.tfrecords"))
  with pytest.raises(data.DataError) as error:
    tfrecords.level_files(path)
  assert str(error.value) == (
      f"Dataset {path} has no file ds-r02.tfrecords, which its dataset.json records with 3 "
      f"images ({3 * _record_bytes(4)} bytes); recreate the dataset with "
      f"tools/dataset_tool.py.")


def _forget_file_records(path):
  """Makes `path` look like a dataset written before dataset.json recorded its files."""
  metadata = _metadata(path)
  del metadata["files"]
  with open(os.path.join(path, "dataset.json"), "w") as f:
    json.dump(metadata, f)


def test_a_dataset_without_file_records_loads_and_a_cut_level_is_found_by_counting(tmp_path):
  path = _grey_dataset(tmp_path, count=10)
  _forget_file_records(path)
  assert tfrecords.info(path)["levels"] == {2: 10, 3: 10}
  assert data.load(f"progan:{path}").examples.shape == (10, 8, 8, 1)
  level_file = os.path.join(path, "ds-r03.tfrecords")
  os.truncate(level_file, 4 * _record_bytes(8))
  with pytest.raises(data.DataError) as error:
    tfrecords.info(path)
  assert str(error.value) == (
      f"Dataset {path} level r03 (ds-r03.tfrecords) is truncated or corrupt: the level holds 4 "
      f"images, but dataset.json records 10; recreate the dataset with "
      f"tools/dataset_tool.py.")
  os.truncate(level_file, 4 * _record_bytes(8) - 5)
  with pytest.raises(data.DataError, match=r"\(ds-r03.tfrecords\) is truncated or corrupt: the "
                     r"file holds 3 whole images and \d+ bytes of a cut-off one \(\d+ bytes\); "
                     r"recreate the dataset with tools/dataset_tool.py.$"):
    tfrecords.info(path)


def test_an_original_tool_dataset_whose_levels_hold_different_counts_is_refused(tmp_path):
  path = _grey_dataset(tmp_path, count=6)
  os.remove(os.path.join(path, "dataset.json"))
  assert tfrecords.info(path)["levels"] == {2: 6, 3: 6}
  os.truncate(os.path.join(path, "ds-r02.tfrecords"), 2 * _record_bytes(4))
  with pytest.raises(data.DataError) as error:
    tfrecords.info(path)
  assert str(error.value) == (
      f"Dataset {path} level r02 (ds-r02.tfrecords) is truncated or corrupt: the level holds 2 "
      f"images, but level r03 holds 6 and every level holds the same images; recreate the "
      f"dataset with tools/dataset_tool.py.")


def test_a_read_error_names_the_cut_file_and_carries_no_tensorflow_function_text(tmp_path):
  path = _grey_dataset(tmp_path, count=6)
  _forget_file_records(path)
  os.truncate(os.path.join(path, "ds-r03.tfrecords"), 5 * _record_bytes(8) + 3)
  raw = ("{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
         "replica:0/task:0/device:CPU:0}} truncated record at 1040' failed with Read less bytes "
         "than requested [Op:IteratorGetNext] name: ")
  error = tfrecords.level_error(path, 3, tf.errors.DataLossError(None, None, raw),
                                advice="checkpoints before this step are intact")
  assert str(error) == (
      f"Dataset {path} level r03 (ds-r03.tfrecords) is truncated or corrupt: the file holds 5 "
      f"whole images and 3 bytes of a cut-off one ({5 * _record_bytes(8) + 3} bytes); "
      f"checkpoints before this step are intact.")


def test_a_record_whose_bytes_changed_is_named_by_its_checksum_without_function_text(tmp_path):
  path = _grey_dataset(tmp_path, count=4)
  level_file = os.path.join(path, "ds-r03.tfrecords")
  content = bytearray(open(level_file, "rb").read())
  content[_record_bytes(8) + 30] ^= 0xFF  # Inside the second record's data.
  open(level_file, "wb").write(bytes(content))
  with pytest.raises(data.DataError) as error:
    tfrecords.read_level(path, 3)
  assert str(error.value) == (
      f"Dataset {path} level r03 (ds-r03.tfrecords) is truncated or corrupt: a record does not "
      # TensorFlow gives the offset of the record's data, after its 12-byte header.
      f"match its checksum (corrupted record at {_record_bytes(8) + 12}); recreate the dataset "
      f"with tools/dataset_tool.py.")


@pytest.mark.parametrize("content,reason", [
    ("{not json", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ("[1, 2]", "a JSON list, not an object"),
])
def test_a_damaged_dataset_json_is_named_in_one_sentence(tmp_path, content, reason):
  path = _grey_dataset(tmp_path, count=2)
  with open(os.path.join(path, "dataset.json"), "w") as f:
    f.write(content)
  with pytest.raises(data.DataError) as error:
    tfrecords.info(path)
  assert str(error.value) == (f"Dataset {path} has a damaged dataset.json ({reason}); recreate "
                              f"the dataset with tools/dataset_tool.py.")


def test_a_dataset_folder_that_is_a_file_or_cannot_be_listed_is_named(tmp_path, monkeypatch):
  (tmp_path / "file").write_text("x")
  with pytest.raises(data.DataError) as error:
    tfrecords.level_files(str(tmp_path / "file"))
  assert str(error.value) == f"Dataset folder {tmp_path / 'file'} is a file, not a folder."

  def denied(path):
    raise PermissionError(13, "Permission denied", path)

  monkeypatch.setattr(os, "listdir", denied)
  with pytest.raises(data.DataError) as error:
    data.load(f"progan:{tmp_path}")
  assert str(error.value) == f"Dataset folder {tmp_path} cannot be read (Permission denied)."


def test_records_are_read_back_in_chw_order_for_grey_and_rgb_images(tmp_path):
  for channels in (1, 3):
    images = _images(count=3, size=4, channels=channels, seed=channels)
    path = str(tmp_path / f"c{channels}")
    tfrecords.create_from_arrays(path, "c", images)
    read, _ = tfrecords.read_level(path, 2)
    np.testing.assert_array_equal(read, images[np.random.default_rng(0).permutation(3)])


def test_a_level_resolution_is_a_power_of_two_of_at_least_4():
  assert [side for side in range(0, 70) if tfrecords.is_level_resolution(side)] == [4, 8, 16, 32, 64]

"""Tests for keras_gen.data.files: IDX, npz and image-folder datasets, on tiny files made here."""

import gzip
import os
import pathlib
import shutil
import struct
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import data
from keras_gen.data import files
from keras_gen.data import sources


def _write_idx(path, array, magic=None):
  """Writes a uint8 array as an IDX file; gzip'd if path ends in .gz."""
  array = np.asarray(array, np.uint8)
  magic = magic if magic is not None else 0x00000800 | array.ndim
  content = struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()
  opener = gzip.open if str(path).endswith(".gz") else open
  with opener(path, "wb") as file:
    file.write(content)
  return str(path)


def _write_idx_split(directory, split, images, labels, suffix=""):
  prefix = "train" if split == "train" else "t10k"
  images_path = _write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
  labels_path = _write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
  return images_path, labels_path


def _tiny_images(count, height=28, width=28):
  return (np.arange(count * height * width) % 251).astype(np.uint8).reshape(count, height, width)


def _write_png(path, image):
  path.parent.mkdir(parents=True, exist_ok=True)
  tf.io.write_file(str(path), tf.io.encode_png(np.asarray(image, np.uint8)))


# IDX files.


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip_returns_the_written_pixels_and_labels(tmp_path, suffix):
  images, labels = _tiny_images(3), np.array([7, 0, 9])
  _write_idx_split(tmp_path, "train", images, labels, suffix)

  source = data.load("fashion_mnist", data_dir=str(tmp_path))

  assert source.kind == "images" and source.split == "train"
  assert source.examples.dtype == np.uint8 and source.examples.shape == (3, 28, 28, 1)
  np.testing.assert_array_equal(source.examples[..., 0], images)
  assert source.labels.dtype == np.int64
  np.testing.assert_array_equal(source.labels, [7, 0, 9])
  assert source.element_shape == (28, 28, 1)


def test_test_split_reads_the_t10k_files(tmp_path):
  _write_idx_split(tmp_path, "train", _tiny_images(3), [1, 2, 3])
  _write_idx_split(tmp_path, "test", _tiny_images(2) // 2, [4, 5])

  source = data.load("mnist", split="test", data_dir=str(tmp_path))

  np.testing.assert_array_equal(source.examples[..., 0], _tiny_images(2) // 2)
  np.testing.assert_array_equal(source.labels, [4, 5])


def test_idx_with_wrong_magic_number_raises_data_error_naming_the_file(tmp_path):
  path = _write_idx(tmp_path / "train-images-idx3-ubyte", _tiny_images(2), magic=0x00000903)
  with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte has magic number "
                     r"0x00000903; expected 0x00000803"):
    files.read_idx(path, files.IDX_IMAGES_MAGIC)


def test_idx_labels_file_with_image_magic_raises_data_error_naming_the_file(tmp_path):
  _write_idx(tmp_path / "train-images-idx3-ubyte", _tiny_images(2))
  _write_idx(tmp_path / "train-labels-idx1-ubyte", _tiny_images(2))
  with pytest.raises(data.DataError, match="train-labels-idx1-ubyte has magic number"):
    data.load("mnist", data_dir=str(tmp_path))


def test_idx_with_missing_bytes_raises_data_error_giving_the_byte_counts(tmp_path):
  path = tmp_path / "images.idx"
  content = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(2 * 28 * 28 - 1)
  path.write_bytes(content)
  with pytest.raises(data.DataError, match=r"images.idx holds 1567 bytes of data; expected 1568"):
    files.read_idx(str(path), files.IDX_IMAGES_MAGIC)


def test_idx_with_extra_bytes_raises_data_error_naming_the_file(tmp_path):
  path = tmp_path / "labels.idx"
  path.write_bytes(struct.pack(">II", 0x801, 3) + bytes(4))
  with pytest.raises(data.DataError, match=r"labels.idx holds 4 bytes of data; expected 3"):
    files.read_idx(str(path), files.IDX_LABELS_MAGIC)


def test_idx_with_truncated_header_raises_data_error_naming_the_file(tmp_path):
  path = tmp_path / "images.idx"
  path.write_bytes(struct.pack(">II", 0x803, 2))
  with pytest.raises(data.DataError, match=r"images.idx is 8 bytes long, too short for a header"):
    files.read_idx(str(path), files.IDX_IMAGES_MAGIC)


def test_empty_idx_file_raises_data_error_naming_the_file(tmp_path):
  path = tmp_path / "empty.idx"
  path.write_bytes(b"")
  with pytest.raises(data.DataError, match=r"empty.idx is 0 bytes long"):
    files.read_idx(str(path), files.IDX_LABELS_MAGIC)


def test_idx_with_a_zero_dimension_raises_data_error_naming_the_file(tmp_path):
  path = _write_idx(tmp_path / "images.idx", np.zeros((0, 28, 28), np.uint8))
  with pytest.raises(data.DataError, match=r"images.idx has dimensions \(0, 28, 28\)"):
    files.read_idx(path, files.IDX_IMAGES_MAGIC)


def test_corrupt_gzip_idx_raises_data_error_naming_the_file(tmp_path):
  path = tmp_path / "train-images-idx3-ubyte.gz"
  path.write_bytes(b"this is not gzip data")
  with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte.gz could not be read"):
    files.read_idx(str(path), files.IDX_IMAGES_MAGIC)


def test_truncated_gzip_idx_raises_data_error_naming_the_file(tmp_path):
  path = tmp_path / "train-images-idx3-ubyte.gz"
  _write_idx(path, _tiny_images(4))
  path.write_bytes(path.read_bytes()[:-20])
  with pytest.raises(data.DataError, match=r"train-images-idx3-ubyte.gz could not be read"):
    files.read_idx(str(path), files.IDX_IMAGES_MAGIC)


def test_idx_image_and_label_counts_that_disagree_raise_data_error_naming_both_files(tmp_path):
  images_path, labels_path = _write_idx_split(tmp_path, "train", _tiny_images(3), [1, 2])
  with pytest.raises(data.DataError) as error:
    data.load("fashion_mnist", data_dir=str(tmp_path))
  assert images_path in str(error.value) and labels_path in str(error.value)
  assert "3 images but 2 labels" in str(error.value)


def test_data_dir_without_idx_files_raises_data_error_naming_dir_and_expected_files(tmp_path):
  _write_idx_split(tmp_path, "train", _tiny_images(2), [1, 2])
  with pytest.raises(data.DataError) as error:
    data.load("fashion_mnist", split="test", data_dir=str(tmp_path))
  message = str(error.value)
  assert str(tmp_path) in message
  assert "t10k-images-idx3-ubyte[.gz]" in message and "t10k-labels-idx1-ubyte[.gz]" in message


@pytest.mark.skipif(not os.path.isdir(sources.DEBIAN_FASHION_MNIST_DIR),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_copy_loads_60000_train_and_10000_test_images():
  train = data.load("fashion_mnist", split="train")
  test = data.load("fashion_mnist", split="test")

  assert train.examples.shape == (60000, 28, 28, 1) and train.labels.shape == (60000,)
  assert test.examples.shape == (10000, 28, 28, 1) and test.labels.shape == (10000,)
  # Fashion-MNIST is balanced: 6000 train and 1000 test images per class.
  np.testing.assert_array_equal(np.bincount(train.labels), [6000] * 10)
  np.testing.assert_array_equal(np.bincount(test.labels), [1000] * 10)
  assert train.examples.max() == 255 and train.examples.min() == 0


def test_resolution_resizes_idx_images_by_area_averaging(tmp_path):
  images = np.kron(np.array([[[10, 20], [30, 40]]]), np.ones((14, 14))).astype(np.uint8)
  _write_idx_split(tmp_path, "train", images, [0])

  source = data.load("mnist", data_dir=str(tmp_path), resolution=2)

  np.testing.assert_array_equal(source.examples[0, ..., 0], [[10, 20], [30, 40]])


def test_resolution_above_the_mnist_size_zero_pads_every_side_evenly(tmp_path):
  _write_idx_split(tmp_path, "train", np.full((2, 28, 28), 90), [0, 1])

  source = data.load("mnist", data_dir=str(tmp_path), resolution=32)

  assert source.examples.shape == (2, 32, 32, 1)
  np.testing.assert_array_equal(source.examples[:, 2:30, 2:30], 90)
  assert source.examples.sum() == 2 * 28 * 28 * 90  # The 2-pixel frame is black.


def test_pad_enlargement_puts_the_odd_pixel_of_the_margin_at_the_bottom_right():
  images = np.full((1, 3, 3, 1), 7, np.uint8)

  padded = files.crop_and_resize(images, 6, enlarge="pad")

  np.testing.assert_array_equal(padded[0, :, :, 0] > 0, np.pad(np.ones((3, 3)), [(1, 2), (1, 2)]))


def test_resize_enlargement_keeps_flat_regions_flat():
  padded = files.crop_and_resize(np.full((2, 28, 28, 1), 90, np.uint8), 32)

  assert padded.shape == (2, 32, 32, 1)
  np.testing.assert_array_equal(padded, 90)


# npz archives.


def test_npz_with_images_and_labels_keys_loads_their_values(tmp_path):
  images = np.arange(2 * 3 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3, 3)
  np.savez(tmp_path / "faces.npz", images=images, labels=np.array([5, 6], np.int32))

  source = data.load(f"npz:{tmp_path / 'faces.npz'}")

  np.testing.assert_array_equal(source.examples, images)
  assert source.labels.dtype == np.int64
  np.testing.assert_array_equal(source.labels, [5, 6])


def test_npz_with_x_key_and_3d_images_gets_a_channel_axis_and_no_labels(tmp_path):
  images = np.arange(2 * 5 * 5, dtype=np.uint8).reshape(2, 5, 5)
  np.savez(tmp_path / "digits.npz", x=images)

  source = data.load(f"npz:{tmp_path / 'digits.npz'}")

  np.testing.assert_array_equal(source.examples[..., 0], images)
  assert source.labels is None


def test_npz_with_wrong_keys_raises_data_error_naming_file_keys_found_and_expected(tmp_path):
  path = tmp_path / "wrong.npz"
  np.savez(path, pictures=np.zeros((1, 2, 2), np.uint8), classes=np.zeros(1))
  with pytest.raises(data.DataError) as error:
    data.load(f"npz:{path}")
  message = str(error.value)
  assert str(path) in message
  assert "['classes', 'pictures']" in message
  assert "'images' (or 'x')" in message and "'labels' (or 'y')" in message


def test_npz_with_float_images_raises_data_error_naming_the_dtype(tmp_path):
  path = tmp_path / "float.npz"
  np.savez(path, images=np.zeros((1, 2, 2), np.float32))
  with pytest.raises(data.DataError, match=r"float.npz has 'images' of dtype float32"):
    data.load(f"npz:{path}")


def test_npz_with_labels_of_wrong_length_raises_data_error(tmp_path):
  path = tmp_path / "labels.npz"
  np.savez(path, images=np.zeros((3, 2, 2), np.uint8), labels=np.zeros(2, np.int64))
  with pytest.raises(data.DataError, match=r"labels.npz has 'labels' of dtype int64 and shape \(2,\)"):
    data.load(f"npz:{path}")


def test_npz_with_object_array_raises_data_error_instead_of_unpickling(tmp_path):
  path = tmp_path / "pickled.npz"
  np.savez(path, images=np.array([object(), 1], dtype=object))
  with pytest.raises(data.DataError, match=r"pickled.npz could not be read"):
    data.load(f"npz:{path}")


def test_missing_npz_raises_data_error_naming_the_file(tmp_path):
  with pytest.raises(data.DataError, match=r"absent.npz does not exist"):
    data.load(f"npz:{tmp_path / 'absent.npz'}")


def test_npz_that_is_plain_text_is_named_as_not_an_archive_without_talk_of_pickles(tmp_path):
  path = tmp_path / "text.npz"
  path.write_text("hello world\nthis is text\n")
  with pytest.raises(data.DataError) as error:
    data.load(f"npz:{path}")
  message = str(error.value)
  assert message == (f"npz file {path} is not a numpy .npz archive (a zip file, as numpy.savez "
                     f"writes): it starts with b'hello '.")
  assert "pickle" not in message


def test_a_single_npy_array_given_as_npz_is_named_as_one_array(tmp_path):
  path = tmp_path / "one.npz"
  with open(path, "wb") as f:
    np.save(f, np.zeros((2, 4, 4), np.uint8))
  with pytest.raises(data.DataError, match=r"one.npz holds a single array \(a .npy file\)"):
    data.load(f"npz:{path}")


# Image folders.


def test_folder_images_are_centre_cropped_and_area_resized(tmp_path):
  # An 8x4 image whose centre 4x4 square is four 2x2 blocks; the rows outside
  # the square are 255 and must be cropped away.
  centre = np.kron(np.array([[10, 20], [30, 40]]), np.ones((2, 2)))
  image = np.concatenate([np.full((2, 4), 255), centre, np.full((2, 4), 255)])
  _write_png(tmp_path / "tall.png", image[..., np.newaxis])

  source = data.load(f"folder:{tmp_path}", resolution=2)

  assert source.examples.shape == (1, 2, 2, 1)
  np.testing.assert_array_equal(source.examples[0, ..., 0], [[10, 20], [30, 40]])
  assert source.labels is None


def test_folder_reads_images_recursively_in_sorted_order_and_skips_other_files(tmp_path):
  _write_png(tmp_path / "b" / "2.png", np.full((4, 4, 1), 2))
  _write_png(tmp_path / "a.png", np.full((4, 4, 1), 1))
  _write_png(tmp_path / "b" / "1.PNG", np.full((4, 4, 1), 3))
  (tmp_path / "notes.txt").write_text("not an image")

  source = data.load(f"folder:{tmp_path}", resolution=4)

  np.testing.assert_array_equal(source.examples[:, 0, 0, 0], [1, 3, 2])


def test_folder_of_grey_and_colour_images_becomes_rgb_with_grey_repeated_and_alpha_dropped(
    tmp_path):
  _write_png(tmp_path / "grey.png", np.full((4, 4, 1), 9))
  tf.io.write_file(str(tmp_path / "photo.jpg"), tf.io.encode_jpeg(np.full((4, 4, 3), 128, np.uint8)))
  _write_png(tmp_path / "rgba.png", np.tile([[[1, 2, 3, 200]]], (4, 4, 1)))

  source = data.load(f"folder:{tmp_path}", resolution=4)

  assert source.examples.shape == (3, 4, 4, 3)
  np.testing.assert_array_equal(source.examples[0, 0, 0], [9, 9, 9])
  np.testing.assert_allclose(source.examples[1], 128, atol=2)
  np.testing.assert_array_equal(source.examples[2, 0, 0], [1, 2, 3])


def test_folder_without_resolution_resizes_to_64(tmp_path):
  _write_png(tmp_path / "small.png", np.full((8, 8, 1), 77))
  source = data.load(f"folder:{tmp_path}")
  assert source.examples.shape == (1, 64, 64, 1)
  np.testing.assert_array_equal(source.examples, 77)


def test_empty_folder_raises_data_error_naming_the_folder(tmp_path):
  (tmp_path / "readme.txt").write_text("no images here")
  with pytest.raises(data.DataError, match=rf"Image folder {tmp_path} contains no image files"):
    data.load(f"folder:{tmp_path}")


def test_undecodable_image_raises_data_error_naming_the_file(tmp_path):
  _write_png(tmp_path / "good.png", np.zeros((4, 4, 1)))
  (tmp_path / "broken.png").write_bytes(b"\x89PNG but not really")
  with pytest.raises(data.DataError, match=r"broken.png could not be decoded"):
    data.load(f"folder:{tmp_path}")


def test_missing_folder_raises_data_error_naming_it(tmp_path):
  with pytest.raises(data.DataError, match=r"absent does not exist"):
    data.load(f"folder:{tmp_path / 'absent'}")


def test_a_data_dir_that_is_a_file_is_named_as_one(tmp_path):
  (tmp_path / "idx").write_bytes(b"not a folder")
  with pytest.raises(data.DataError) as error:
    data.load("fashion_mnist", data_dir=str(tmp_path / "idx"))
  assert str(error.value) == f"--data_dir={tmp_path / 'idx'} is a file, not a folder."


def test_a_data_dir_that_cannot_be_listed_is_named_with_the_reason(tmp_path, monkeypatch):
  # Root reads a chmod 000 folder anyway, so the refusal is simulated here for any user.
  _write_idx_split(tmp_path, "train", _tiny_images(2), [1, 2])

  def denied(path):
    raise PermissionError(13, "Permission denied", path)

  monkeypatch.setattr(os, "listdir", denied)
  for name in ("fashion_mnist", "mnist"):
    with pytest.raises(data.DataError) as error:
      data.load(name, data_dir=str(tmp_path))
    assert str(error.value) == f"--data_dir={tmp_path} cannot be read (Permission denied)."
  with pytest.raises(data.DataError) as error:
    files.read_idx_dataset(str(tmp_path), "train")
  assert str(error.value) == f"Directory {tmp_path} cannot be read (Permission denied)."


def test_a_data_dir_without_search_permission_is_named_though_it_can_be_listed(
    tmp_path, monkeypatch):
  monkeypatch.setattr(os, "access", lambda path, mode: not mode & os.X_OK)
  with pytest.raises(data.DataError) as error:
    data.load("mnist", data_dir=str(tmp_path))
  assert str(error.value) == f"--data_dir={tmp_path} cannot be read (Permission denied)."


def test_a_chmod_000_data_dir_is_refused_to_a_user_who_cannot_read_it():
  # In a folder any user can pass through (tmp_path's parent is root's alone).
  parent = tempfile.mkdtemp()
  os.chmod(parent, 0o711)
  idx_dir = pathlib.Path(parent) / "idx"
  idx_dir.mkdir()
  _write_idx_split(idx_dir, "train", _tiny_images(2), [1, 2])
  os.chmod(idx_dir, 0)
  read, write = os.pipe()
  try:
    child = os.fork()
    if child == 0:  # Root reads any folder, so the child drops to nobody (uid 65534) first.
      message = b""
      try:
        if os.getuid() == 0:
          os.setgid(65534)
          os.setuid(65534)
        data.load("fashion_mnist", data_dir=str(idx_dir))
      except data.DataError as error:
        message = str(error).encode()
      finally:
        os.write(write, message)
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as pipe:
      message = pipe.read().decode()
  finally:
    os.chmod(idx_dir, 0o755)
    shutil.rmtree(parent)
  assert message == f"--data_dir={idx_dir} cannot be read (Permission denied)."

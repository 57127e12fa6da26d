"""Tests for keras_gen.data.sources and .mixtures: names, tfds loading and the toy mixtures."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import data
from keras_gen.data import mixtures
from keras_gen.data import sources
from keras_gen.data import tfrecords


# Names and splits.


def test_dataset_names_lists_fixed_names_and_prefixed_forms():
  assert data.dataset_names() == [
      "fashion_mnist", "mnist", "cifar10", "ring8", "grid25", "tfds:NAME", "folder:PATH",
      "npz:PATH", "progan:PATH"]


def test_describe_datasets_gives_one_line_per_name_starting_with_the_name():
  lines = data.describe_datasets().splitlines()
  assert [line.split()[0] for line in lines] == data.dataset_names()


def test_unknown_dataset_name_raises_data_error_listing_valid_names():
  with pytest.raises(data.DataError, match=r"'imagenet' is unknown; valid names are "
                     r"fashion_mnist, mnist, cifar10, ring8, grid25, tfds:NAME"):
    data.load("imagenet")


def test_unknown_split_raises_data_error_listing_splits():
  with pytest.raises(data.DataError, match=r"Split 'validation' .* \['train', 'test'\]"):
    data.load("ring8", split="validation")


def test_source_with_float_images_raises_data_error():
  with pytest.raises(data.DataError, match="expected uint8"):
    data.Source("bad", "images", np.zeros((2, 4, 4, 1), np.float32), None, "train")


# tfds, with tfds.load replaced: tests never reach the network.


def _fake_tfds_load(local_arrays=None, download_error=None):
  calls = []

  def load(name, split, batch_size, download, data_dir):
    calls.append(dict(name=name, split=split, batch_size=batch_size, download=download))
    if not download:
      if local_arrays is None:
        raise AssertionError(f"Dataset {name}: could not find data in {data_dir}.")
      return {key: tf.constant(value) for key, value in local_arrays.items()}
    raise download_error or ConnectionError("network is unreachable")

  return load, calls


def test_tfds_source_loads_image_and_label_features_into_memory(monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
  load, calls = _fake_tfds_load({"image": images, "label": np.array([3, 1])})
  monkeypatch.setattr(tfds, "load", load)

  source = data.load("tfds:my_faces", split="test")

  assert calls == [dict(name="my_faces", split="test", batch_size=-1, download=False)]
  np.testing.assert_array_equal(source.examples, images)
  assert source.labels.dtype == np.int64
  np.testing.assert_array_equal(source.labels, [3, 1])


def test_tfds_dataset_without_image_feature_raises_data_error_listing_features(monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  load, _ = _fake_tfds_load({"text": np.array([b"a"])})
  monkeypatch.setattr(tfds, "load", load)
  with pytest.raises(data.DataError, match=r"'my_text' has features \['text'\]"):
    data.load("tfds:my_text")


def test_cifar10_without_local_copy_or_network_raises_data_error_saying_how_to_provide_it(
    monkeypatch):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  load, calls = _fake_tfds_load()
  monkeypatch.setattr(tfds, "load", load)
  with pytest.raises(data.DataError, match=r"'cifar10' \(train\) has no local tfds copy and "
                     r"could not be downloaded; prepare it .* --data_dir"):
    data.load("cifar10")
  assert [call["download"] for call in calls] == [False, True]


def test_fashion_mnist_without_any_copy_raises_data_error_naming_the_debian_package(
    monkeypatch, tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "absent"))
  load, _ = _fake_tfds_load()
  monkeypatch.setattr(tfds, "load", load)
  with pytest.raises(data.DataError) as error:
    data.load("fashion_mnist")
  assert "could not be downloaded" in str(error.value)
  assert "--data_dir" in str(error.value)
  assert "apt-get install dataset-fashion-mnist" in str(error.value)


def test_unknown_tfds_name_raises_data_error_naming_it():
  with pytest.raises(data.DataError, match="tfds has no dataset named 'no_such_dataset_xyz'"):
    data.load("tfds:no_such_dataset_xyz")


# Toy mixtures.


@pytest.mark.parametrize("name, num_modes, std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_mixture_samples_lie_near_their_mode_with_roughly_uniform_mode_counts(
    name, num_modes, std):
  source = data.load(name, seed=3)
  modes = data.mixture_modes(name)

  assert source.kind == "points" and source.examples.shape == (100_000, 2)
  assert source.examples.dtype == np.float32 and data.mixture_std(name) == std
  distances = np.linalg.norm(source.examples[:, None, :] - modes[None], axis=-1)
  np.testing.assert_array_equal(np.argmin(distances, axis=1), source.labels)
  offsets = source.examples - modes[source.labels]
  assert np.abs(offsets).max() < 6 * std
  np.testing.assert_allclose(offsets.std(axis=0), std, rtol=0.02)
  counts = np.bincount(source.labels, minlength=num_modes)
  np.testing.assert_allclose(counts, 100_000 / num_modes, rtol=0.1)


def test_mixture_modes_follow_the_pinned_protocol():
  ring = data.mixture_modes("ring8")
  np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, rtol=1e-6)
  np.testing.assert_allclose(ring[0], [2.0, 0.0], atol=1e-6)
  np.testing.assert_allclose(ring[2], [0.0, 2.0], atol=1e-6)
  grid = data.mixture_modes("grid25")
  assert sorted(map(tuple, grid.tolist())) == [
      (x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]


def test_mixture_samples_are_deterministic_per_seed_and_split():
  train = data.load("grid25", seed=1).examples
  test = data.load("grid25", split="test", seed=1).examples

  np.testing.assert_array_equal(train, data.load("grid25", seed=1).examples)
  np.testing.assert_array_equal(train, mixtures.sample_mixture("grid25", "train", 1)[0])
  assert test.shape == (10_000, 2)
  assert not set(map(tuple, test.tolist())) & set(map(tuple, train.tolist()))
  assert not np.array_equal(train, data.load("grid25", seed=2).examples)


def test_unknown_mixture_raises_data_error():
  with pytest.raises(data.DataError, match="'ring7' is unknown"):
    data.mixture_modes("ring7")
  with pytest.raises(data.DataError, match="'ring7' is unknown"):
    data.mixture_std("ring7")


# Limits.


def test_limit_keeps_the_first_examples_and_their_labels_of_a_multi_resolution_level(
    tmp_path, monkeypatch):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (10, 8, 8, 1), dtype=np.uint8)
  path = str(tmp_path / "ds")
  tfrecords.create_from_arrays(path, "ds", images, np.arange(10), shard_size=4)
  whole = data.load(f"progan:{path}")
  read_limits = []
  read_level = tfrecords.read_level

  def recording_read_level(path, level, limit=None):
    read_limits.append(limit)
    return read_level(path, level, limit)

  monkeypatch.setattr(tfrecords, "read_level", recording_read_level)
  first = data.load(f"progan:{path}", resolution=4, limit=3)
  assert read_limits == [3]  # Read from disk with the limit, not sliced afterwards.
  np.testing.assert_array_equal(first.examples,
                                data.load(f"progan:{path}", resolution=4).examples[:3])
  np.testing.assert_array_equal(first.labels, whole.labels[:3])


def test_limit_slices_an_in_memory_source_and_must_be_positive():
  assert data.load("ring8", limit=5).examples.shape == (5, 2)
  np.testing.assert_array_equal(data.load("ring8", limit=5).labels,
                                data.load("ring8").labels[:5])
  with pytest.raises(data.DataError, match="Limit 0 for dataset 'ring8' is not a positive"):
    data.load("ring8", limit=0)


def test_stored_resolutions_lists_a_progan_folders_sides_and_none_for_other_datasets(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 1), dtype=np.uint8)
  path = str(tmp_path / "ds")
  tfrecords.create_from_arrays(path, "ds", images, np.arange(4), shard_size=4)
  assert data.stored_resolutions(f"progan:{path}") == [4, 8, 16]
  assert data.stored_resolutions("grid25") is None
  with pytest.raises(data.DataError, match="'progan:' needs a path"):
    data.stored_resolutions("progan:")

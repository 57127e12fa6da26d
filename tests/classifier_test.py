"""The domain classifier: training, its saved artifact, and loading it back."""

import inspect
import json
import os

import keras
import numpy as np
import pytest

from keras_gen import config as config_lib
from keras_gen.metrics import classifier
from keras_gen.metrics import extractors


@pytest.fixture(scope="module")
def trained(tiny_npz, tmp_path_factory):
  """(weights path, metadata) of a classifier trained one epoch on the tiny dataset."""
  path = str(tmp_path_factory.mktemp("classifier") / "tiny.weights.h5")
  return path, classifier.train(f"npz:{tiny_npz}", path, epochs=1, batch_size=16, verbose=0)


def test_trained_classifier_is_saved_with_its_accuracy_and_loads_to_the_same_logits(
    tiny_npz, trained):
  path, metadata = trained
  with open(classifier.metadata_path(path)) as f:
    assert json.load(f) == metadata
  assert metadata["input_shape"] == [16, 16, 1] and metadata["num_classes"] == 10
  assert 0.0 <= metadata["test_accuracy"] <= 1.0
  assert not [name for name in os.listdir(os.path.dirname(path)) if "partial" in name]
  extractor = classifier.load_extractor(f"npz:{tiny_npz}", path)
  images = np.random.default_rng(0).uniform(-1, 1, (5, 16, 16, 1)).astype(np.float32)
  features, logits = extractor.features(images, batch_size=2)
  assert features.shape == (5, 128) and logits.shape == (5, 10)
  model = classifier.build((16, 16, 1), 10)
  model.load_weights(path)
  np.testing.assert_allclose(logits, model(images).numpy(), rtol=1e-5, atol=1e-5)


def test_images_larger_by_an_even_margin_are_centre_cropped_to_the_classifier_input(
    tiny_npz, trained):
  path, _ = trained
  extractor = classifier.load_extractor(f"npz:{tiny_npz}", path)
  images = np.random.default_rng(1).uniform(-1, 1, (3, 16, 16, 1)).astype(np.float32)
  padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)], constant_values=-1.0)

  features, logits = extractor.features(padded)

  expected_features, expected_logits = extractor.features(images)
  np.testing.assert_array_equal(features, expected_features)
  np.testing.assert_array_equal(logits, expected_logits)


@pytest.mark.parametrize("shape", [(15, 16, 1), (19, 19, 1), (20, 20, 3)])
def test_smaller_odd_margin_or_other_channel_images_are_refused_with_a_sentence(
    tiny_npz, trained, shape):
  path, _ = trained
  extractor = classifier.load_extractor(f"npz:{tiny_npz}", path)

  with pytest.raises(config_lib.ConfigError, match=r"expects \(16, 16, 1\)"):
    extractor.features(np.zeros((2,) + shape, np.float32))


def test_a_classifier_loaded_under_mixed_bfloat16_computes_float32_features(
    tiny_npz, trained, monkeypatch):
  path, _ = trained
  images = np.random.default_rng(2).uniform(-1, 1, (4, 16, 16, 1)).astype(np.float32)
  reference, _ = classifier.load_extractor(f"npz:{tiny_npz}", path).features(images)
  monkeypatch.setattr(extractors, "_BUILT", {})
  keras.config.set_dtype_policy("mixed_bfloat16")
  try:
    features, _ = classifier.load_extractor(f"npz:{tiny_npz}", path).features(images)
  finally:
    keras.config.set_dtype_policy("float32")

  assert features.dtype == np.float32
  np.testing.assert_array_equal(features, reference)


def test_the_saved_weights_hold_the_network_alone(trained):
  path, _ = trained
  parameters = classifier.build((16, 16, 1), 10).count_params()
  # float32 weights plus HDF5 overhead; Adam's two slots would triple it.
  assert os.path.getsize(path) < 4 * parameters * 1.2


def test_a_missing_classifier_names_the_command_that_trains_it(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_GEN_HOME", str(tmp_path))
  assert classifier.default_path("fashion_mnist") == str(
      tmp_path / "classifiers" / "fashion_mnist.weights.h5")
  with pytest.raises(config_lib.ConfigError, match=(
      "python -m keras_gen.metrics.train_classifier --dataset=fashion_mnist")):
    classifier.load_extractor("fashion_mnist")


def test_a_dataset_without_labels_cannot_train_a_classifier(tmp_path):
  path = tmp_path / "unlabelled.npz"
  np.savez(path, images=np.zeros((8, 16, 16, 1), np.uint8))
  with pytest.raises(config_lib.ConfigError, match="has no labelled images"):
    classifier.train(f"npz:{path}", str(tmp_path / "c.weights.h5"), epochs=1, verbose=0)


def test_the_zoo_recipe_states_the_trainer_defaults_and_a_measured_accuracy():
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zoo",
                      "classifiers", "fcd_classifier_fashion_mnist.json")
  with open(path) as f:
    recipe = json.load(f)
  defaults = inspect.signature(classifier.train).parameters
  for name in ("epochs", "batch_size", "learning_rate", "seed"):
    assert recipe["config"][name] == defaults[name].default
  assert recipe["command"] == classifier.TRAIN_COMMAND.format(dataset="fashion_mnist")
  assert 0.85 < recipe["measured"]["test_accuracy"] < 1.0

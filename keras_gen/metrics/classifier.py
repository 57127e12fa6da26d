"""The domain classifier behind FCD, classifier score and precision/recall (docs/evaluation.md)."""

import json
import os
import re
import time

import keras
import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import machine
from keras_gen import storage
from keras_gen.metrics import extractors
from keras_gen.metrics import image_sets

FEATURES_LAYER = "features"
LOGITS_LAYER = "logits"
TRAIN_COMMAND = "python -m keras_gen.metrics.train_classifier --dataset={dataset}"
SHIPPED_DIR = os.path.join(config_lib.ZOO_DIR, "classifiers")


def keras_gen_home():
  return os.environ.get("KERAS_GEN_HOME") or os.path.join(os.path.expanduser("~"), ".keras_gen")


def slug(dataset):
  return re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset).strip("_")


def default_path(dataset):
  return os.path.join(keras_gen_home(), "classifiers", f"{slug(dataset)}.weights.h5")


def shipped_path(dataset):
  """The zoo's reference classifier for `dataset` (which may not exist)."""
  return os.path.join(SHIPPED_DIR, f"fcd_classifier_{slug(dataset)}.weights.h5")


def metadata_path(weights_path):
  return re.sub(r"(\.weights)?\.h5$", "", weights_path) + ".json"


def _conv_filters(side):
  """Feature maps per conv + maxpool stage: 32, 64, then 64 until the side is at most 8."""
  filters, side = [32, 64], side // 4
  while side > 8:
    filters.append(64)
    side //= 2
  return filters


def build(input_shape, num_classes, feature_dim=128, dropout=0.3):
  """The classifier: images [N, H, W, C] in [-1, 1] -> logits [N, num_classes]."""
  x = inputs = keras.Input(input_shape, name="images")
  for filters in _conv_filters(input_shape[0]):
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
  x = keras.layers.Flatten()(x)
  features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
  x = keras.layers.Dropout(dropout)(features)
  logits = keras.layers.Dense(num_classes, name=LOGITS_LAYER)(x)
  return keras.Model(inputs, logits, name="domain_classifier")


# A one-split dataset tests every HOLD_OUT_EVERY-th labelled image, in stored order.
HOLD_OUT_EVERY = 5


def train(dataset, output_path="", data_dir=None, epochs=3, batch_size=128, learning_rate=1e-3,
          seed=0, verbose=2):
  """Trains, tests and saves the classifier of `dataset`'s domain; returns its metadata."""
  domain = data.domain(dataset)
  output_path = output_path or default_path(domain)
  (train_images, train_labels), (test_images, test_labels) = _labelled_splits(dataset, data_dir)
  num_classes = int(max(train_labels.max(), test_labels.max())) + 1
  started = time.perf_counter()
  other_load = machine.OtherLoad().start()
  keras.utils.set_random_seed(seed)
  model = build(train_images.shape[1:], num_classes)
  model.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"],
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  model.fit(data.from_uint8(train_images).numpy(), train_labels, batch_size=batch_size,
            epochs=epochs, shuffle=True, verbose=verbose)
  _, test_accuracy = model.evaluate(data.from_uint8(test_images).numpy(), test_labels,
                                    batch_size=1024, verbose=0)
  metadata = {
      "command": TRAIN_COMMAND.format(dataset=dataset), "dataset": domain,
      "input_shape": list(train_images.shape[1:]), "num_classes": num_classes,
      "test_accuracy": round(float(test_accuracy), 4), "num_train_examples": len(train_images),
      "num_test_examples": len(test_images), "epochs": epochs, "batch_size": batch_size,
      "learning_rate": learning_rate, "seed": seed,
      "wall_seconds": round(time.perf_counter() - started, 1),
      "machine": dict(machine.describe(), other_load_cores=other_load.stop())}
  _save(model, metadata, output_path)
  return metadata


def _labelled_splits(dataset, data_dir):
  train_split = data.load(dataset, "train", data_dir)
  if train_split.kind != "images" or train_split.labels is None:
    raise config_lib.ConfigError(f"--dataset={dataset} has no labelled images; the domain "
                                 "classifier needs class labels.")
  labelled = np.flatnonzero(train_split.labels >= 0)
  if data.has_test_split(dataset):
    test_split, trained = data.load(dataset, "test", data_dir), labelled
    tested = np.flatnonzero(test_split.labels >= 0) if test_split.labels is not None else []
    if not len(tested):
      raise config_lib.ConfigError(f"--dataset={dataset} has no labelled test images.")
  else:
    test_split = train_split
    tested, trained = labelled[::HOLD_OUT_EVERY], np.delete(labelled, np.s_[::HOLD_OUT_EVERY])
    if not len(trained):
      raise config_lib.ConfigError(f"--dataset={dataset} has {len(labelled)} labelled image(s); "
                                   f"holding out every {HOLD_OUT_EVERY}th for the test leaves "
                                   "none to train on.")
  return ((train_split.examples[trained], train_split.labels[trained]),
          (test_split.examples[tested], test_split.labels[tested]))


def _save(model, metadata, output_path):
  """Weights and metadata under temporary names, then both renamed into place."""
  os.makedirs(os.path.dirname(os.path.abspath(output_path)), exist_ok=True)
  partial_weights = output_path[:-len(".weights.h5")] + ".partial.weights.h5"
  partial_metadata = metadata_path(output_path) + ".partial"
  # An uncompiled copy saves the network alone, without the optimizer's slots.
  network = build(tuple(metadata["input_shape"]), metadata["num_classes"])
  network.set_weights(model.get_weights())
  network.save_weights(partial_weights)
  metadata["sha256"] = storage.sha256_of(partial_weights)
  with open(partial_metadata, "w") as f:
    json.dump(metadata, f, indent=2, sort_keys=True)
  os.replace(partial_weights, output_path)
  os.replace(partial_metadata, metadata_path(output_path))


class ClassifierExtractor:
  """features(images in [-1, 1]) -> (features [N, 128], logits [N, classes])."""

  def __init__(self, model, metadata, weights_path, sha256):
    self.metadata = metadata
    self.input_shape = tuple(metadata["input_shape"])
    self.name = "domain_classifier"
    self.description = (f"keras_gen domain classifier for {metadata['dataset']} "
                        f"({os.path.abspath(weights_path)}, SHA-256 {sha256[:16]}..., test "
                        f"accuracy {metadata.get('test_accuracy')}), 128-d dense features "
                        f"before the logits, larger images centre-cropped to its input")
    # Features cached from other weights must not be reused: the key holds their hash.
    self.cache_key = f"{self.name}-{metadata['dataset']}-{sha256[:16]}"
    self._model = keras.Model(model.input, [model.get_layer(FEATURES_LAYER).output, model.output])
    self._predict = tf.function(lambda images: self._model(images, training=False))

  def check_images(self, images, what):
    """ConfigError unless `images` [N, H, W, C] fit the input or exceed it by even margins."""
    height, width, channels = self.input_shape
    shape = tuple(images.shape[1:])
    if (len(shape) != 3 or shape[2] != channels
        or any(margin < 0 or margin % 2 for margin in (shape[0] - height, shape[1] - width))):
      raise config_lib.ConfigError(
          f"The {what} have shape {shape}, but the domain classifier for "
          f"{self.metadata['dataset']!r} expects {self.input_shape} (or larger by an even margin, "
          f"centre-cropped); evaluate against the dataset it was trained on or train one for "
          f"yours ({TRAIN_COMMAND.format(dataset='NAME')}).")

  def features(self, images, batch_size=500):
    """float32 [N, H, W, C] in [-1, 1], or batches of them -> (float32 [N, 128], [N, classes])."""
    def centre_cropped(batches):
      height, width, _ = self.input_shape
      for batch in batches:
        self.check_images(batch, "images")
        top, left = (batch.shape[1] - height) // 2, (batch.shape[2] - width) // 2
        yield batch[:, top:top + height, left:left + width]
    return image_sets.batched_features(
        self._predict, centre_cropped(image_sets.as_batches(images)), batch_size)


def resolve_path(dataset, path=""):
  """The weights `load_extractor` would use; ConfigError naming how to train them if none."""
  if not path:
    path = shipped_path(dataset)
    path = path if os.path.exists(path) else default_path(dataset)
  if not os.path.exists(path) or not os.path.exists(metadata_path(path)):
    hint = (" (or recreate the progan: dataset with tools/dataset_tool.py --domain=NAME, the "
            "dataset whose classifier fits its images)" if dataset.startswith("progan:") else "")
    raise config_lib.ConfigError(
        f"No domain classifier for {dataset!r} at {path} (with "
        f"{os.path.basename(metadata_path(path))} beside it); train it with "
        f"`{TRAIN_COMMAND.format(dataset=dataset)}` or pass --metric_options=classifier_path=PATH"
        f"{hint}.")
  return path


def load_extractor(dataset, path=""):
  """The extractor of domain `dataset`; ConfigError if missing or its SHA-256 is not recorded."""
  path = resolve_path(dataset, path)

  def build_extractor():
    with open(metadata_path(path)) as f:
      metadata = json.load(f)
    sha256 = storage.sha256_of(path)
    if metadata.get("sha256", sha256) != sha256:
      raise config_lib.ConfigError(
          f"Classifier weights {path} have SHA-256 {sha256}, not the {metadata['sha256']} "
          f"{os.path.basename(metadata_path(path))} records: the file is damaged or was "
          f"replaced (restore it, e.g. with `git checkout`, or retrain it).")
    model = build(tuple(metadata["input_shape"]), metadata["num_classes"])
    extractors.load_weights(model, path, f"Classifier weights {path} do not fit the classifier "
                                         f"described in {metadata_path(path)}")
    return ClassifierExtractor(model, metadata, path, sha256)

  return extractors.built_once(("classifier", os.path.abspath(path), os.path.getmtime(path)),
                               build_extractor)

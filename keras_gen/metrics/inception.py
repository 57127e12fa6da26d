"""Inception-v3 features and logits (Keras' weights) for FID, KID and IS (docs/evaluation.md)."""

import hashlib
import os

import keras
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen.metrics import extractors
from keras_gen.metrics import image_sets

RESOLUTION = 299
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
               + WEIGHTS_FILE)
RANDOM = "random"


def keras_cache_candidates():
  """Where Keras' get_file would have stored the weights, in the order it prefers."""
  homes = [os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"),
           os.path.join("/tmp", ".keras")]  # Keras falls back here when ~ is read-only.
  return [os.path.join(home, "models", WEIGHTS_FILE) for home in homes]


def resolve_weights(weights=""):
  """The given weights, or the first in the Keras cache; ConfigError saying how to get them."""
  if weights == RANDOM:
    return RANDOM
  if weights:
    if not os.path.isfile(weights):
      raise config_lib.ConfigError(f"--metric_options=inception_weights={weights} is not a file; "
                                   f"expected the Keras Inception-v3 weights with the top "
                                   f"({WEIGHTS_FILE}).")
    return weights
  for candidate in keras_cache_candidates():
    if os.path.isfile(candidate):
      return candidate
  raise config_lib.ConfigError(
      f"Inception-v3 weights are not in the Keras cache ({keras_cache_candidates()[0]}); download "
      f"{WEIGHTS_URL} there (or run `python -c \"import keras; keras.applications.InceptionV3()\"` "
      f"once with network access), or pass --metric_options=inception_weights=PATH.")


class InceptionExtractor:
  """features(images in [-1, 1]) -> (pool features [N, 2048], logits [N, 1000])."""

  def __init__(self, weights, resolution=RESOLUTION):
    if resolution < 75:
      raise config_lib.ConfigError(f"--metric_options=inception_resolution={resolution} is below "
                                   f"Inception-v3's minimum input size of 75.")
    self.resolution = resolution
    model = keras.applications.InceptionV3(include_top=True, weights=None,
                                           input_shape=(resolution, resolution, 3),
                                           classifier_activation=None)
    if weights == RANDOM:
      self.cache_key = None  # Random weights differ between runs: never cache their features.
      origin = "random initial weights (test only)"
    else:
      extractors.load_weights(model, weights, f"Inception-v3 weights {weights} could not be loaded")
      with open(weights, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()[:16]
      self.cache_key = f"inception_v3-{resolution}-{digest}"
      origin = f"weights {os.path.abspath(weights)}"
    self.name = "inception_v3" if weights != RANDOM else "inception_v3_random"
    self.description = (f"keras.applications InceptionV3, {origin}; grey replicated to RGB, "
                        f"bilinear resize to {resolution}x{resolution}; 2048-d avg_pool "
                        f"features, 1000 logits")
    self._model = keras.Model(model.input, [model.get_layer("avg_pool").output, model.output])
    self._predict = tf.function(self._forward)

  def _forward(self, images):
    if images.shape[-1] == 1:
      images = tf.tile(images, [1, 1, 1, 3])
    images = tf.image.resize(images, [self.resolution, self.resolution], method="bilinear")
    return self._model(images, training=False)

  def features(self, images, batch_size=64):
    """float32 [N, H, W, 1 or 3] in [-1, 1], or batches -> (float32 [N, 2048], [N, 1000])."""
    return image_sets.batched_features(self._predict, images, batch_size)


def load_extractor(weights="", resolution=RESOLUTION):
  """The extractor for the given weights (see `resolve_weights`), built once per process."""
  weights = resolve_weights(weights)
  return extractors.built_once(("inception", weights, resolution),
                               lambda: InceptionExtractor(weights, resolution))

"""`from keras_gen.lazy import tensorflow as tf`: TensorFlow imported at the first `tf.` read,
so that `--help`, which lists the datasets, does not wait for it."""

import importlib


class _OnFirstUse:

  def __init__(self, name):
    self._name = name

  def __getattr__(self, attribute):
    return getattr(importlib.import_module(self._name), attribute)


tensorflow = _OnFirstUse("tensorflow")

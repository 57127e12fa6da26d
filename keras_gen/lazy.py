"""`from keras_gen.lazy import tensorflow as tf`: TensorFlow imported at the first `tf.` read,
so that `--help`, which lists the datasets, does not wait for it."""

import importlib


class _TensorFlowOnFirstUse:

  def __getattr__(self, attribute):
    return getattr(importlib.import_module("tensorflow"), attribute)


tensorflow = _TensorFlowOnFirstUse()

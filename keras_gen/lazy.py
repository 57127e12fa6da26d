"""TensorFlow, imported on first use, for modules an entry point's `--help` imports.

`from keras_gen.lazy import tensorflow as tf` reads as the usual import; the
real import (seconds) happens at the first `tf.` attribute a function uses, so
listing datasets for `--help` does not pay for it.
"""

import importlib


class _OnFirstUse:
  """A module object that imports the named module when an attribute is first read."""

  def __init__(self, name):
    self._name = name

  def __getattr__(self, attribute):
    return getattr(importlib.import_module(self._name), attribute)


tensorflow = _OnFirstUse("tensorflow")

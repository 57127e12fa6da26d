"""keras_gen: a TensorFlow 2 / Keras 3 model zoo of generative models.

The Python API (`keras_gen.api`): `keras_gen.load(model_dir | export_dir | pretrained
name)` and `keras_gen.fit(recipe, model_dir=..., **settings)`. Importing keras_gen
imports no TensorFlow; these functions do, when called.
"""

# Records whether the user chose TF_CPP_MIN_LOG_LEVEL, and sets it before anything imports
# TensorFlow (which reads it once): see keras_gen.tf_startup.
from keras_gen import tf_startup  # noqa: F401

__version__ = "0.1.0"
_API = ("load", "fit", "Model")


def __getattr__(name):
  """keras_gen.load, .fit and .Model, from keras_gen.api on first use."""
  if name in _API:
    from keras_gen import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f"module 'keras_gen' has no attribute {name!r}")


def __dir__():
  return sorted([*globals(), *_API])

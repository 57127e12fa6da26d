"""What the metrics' feature networks (Inception-v3, the domain classifier) share."""

import keras

from keras_gen import config as config_lib

_BUILT = {}


def built_once(key, build):
  """`build()` once per `key` in this process, in float32 (not mixed_bfloat16's 8-bit mantissa)."""
  if key not in _BUILT:
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
      _BUILT[key] = build()
    finally:
      keras.config.set_dtype_policy(previous)
  return _BUILT[key]


def load_weights(model, path, problem):
  """model.load_weights(path); a file that does not fit raises ConfigError `problem: why`."""
  try:
    model.load_weights(path)
  except (ValueError, OSError) as e:
    raise config_lib.ConfigError(f"{problem}: {str(e).splitlines()[0]}") from e

"""What the metrics' feature networks (Inception-v3, the domain classifier) share."""

from keras_gen import config as config_lib

_BUILT = {}


def built_once(key, build):
  """`build()` the first time `key` is asked for in this process; the same object after."""
  if key not in _BUILT:
    _BUILT[key] = build()
  return _BUILT[key]


def load_weights(model, path, problem):
  """model.load_weights(path); a file that does not fit raises ConfigError `problem: why`."""
  try:
    model.load_weights(path)
  except (ValueError, OSError) as e:
    raise config_lib.ConfigError(f"{problem}: {str(e).splitlines()[0]}") from e

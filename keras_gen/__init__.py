"""keras_gen: a TensorFlow 2 / Keras 3 model zoo of generative models."""

import os

# TensorFlow reads this once, at import: keep its C++ INFO lines out of the
# progress output unless the user asked for them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

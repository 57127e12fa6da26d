"""The one conversion between stored uint8 pixels and the [-1, 1] floats networks see."""

from __future__ import annotations

from keras_gen.lazy import tensorflow as tf


def from_uint8(images) -> tf.Tensor:
  """uint8 images in [0, 255] -> float32 in [-1, 1] (x / 127.5 - 1); 0 -> -1, 255 -> 1."""
  images = tf.convert_to_tensor(images)
  if images.dtype != tf.uint8:
    raise ValueError(f"from_uint8 expects uint8 images, got {images.dtype.name}.")
  return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images: tf.Tensor) -> tf.Tensor:
  """Float images in [-1, 1] -> uint8 in [0, 255], rounding and clipping.

  The inverse of `from_uint8`: to_uint8(from_uint8(x)) == x for every uint8 x.
  Values outside [-1, 1] clip to 0 or 255.
  """
  images = tf.cast(images, tf.float32)
  return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)

"""Progressive GAN's layers (Karras et al. 2018): equalized learning rate (sec. 4.1), pixel norm
(sec. 4.2), minibatch stddev (sec. 3), resampling; NHWC.
"""

import math

import keras
import tensorflow as tf
from keras import layers

# He's gain for a LeakyReLU(0.2) network, as the paper's code uses (sqrt(2) for ReLU).
HE_GAIN = math.sqrt(2.0)
LEAKY_RELU_SLOPE = 0.2


class EqualizedDense(layers.Layer):
  """[N, fan_in] -> [N, units]: y = x @ (w * gain / sqrt(fan_in)) + b, w ~ N(0, 1), b = 0."""

  def __init__(self,
               units,            # Output features.
               gain=HE_GAIN,     # Runtime multiplier of the He constant 1 / sqrt(fan_in).
               **kwargs):
    super().__init__(**kwargs)
    self.units, self.gain = units, gain

  def build(self, input_shape):
    fan_in = int(input_shape[-1])
    self.scale = self.gain / math.sqrt(fan_in)
    self.kernel = self.add_weight(name="kernel", shape=(fan_in, self.units),
                                  initializer=keras.initializers.RandomNormal(0.0, 1.0))
    self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

  def call(self, x):
    y = keras.ops.matmul(x, keras.ops.cast(self.kernel, x.dtype) * self.scale)
    return y + keras.ops.cast(self.bias, x.dtype)


class EqualizedConv2D(layers.Layer):
  """[N, H, W, C_in] -> [N, H, W, filters], stride 1, 'same'; w ~ N(0, 1) times
  gain / sqrt(kernel_size^2 * C_in) at runtime, b = 0."""

  def __init__(self,
               filters,          # Output feature maps.
               kernel_size=3,    # 3 for the blocks, 1 for toRGB / fromRGB.
               gain=HE_GAIN,
               **kwargs):
    super().__init__(**kwargs)
    self.filters, self.kernel_size, self.gain = filters, kernel_size, gain

  def build(self, input_shape):
    channels = int(input_shape[-1])
    self.scale = self.gain / math.sqrt(self.kernel_size * self.kernel_size * channels)
    self.kernel = self.add_weight(
        name="kernel", shape=(self.kernel_size, self.kernel_size, channels, self.filters),
        initializer=keras.initializers.RandomNormal(0.0, 1.0))
    self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

  def call(self, x):
    kernel = keras.ops.cast(self.kernel, x.dtype) * self.scale
    y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
    return y + keras.ops.cast(self.bias, x.dtype)


def pixel_norm(x, epsilon=1e-8):
  """x / sqrt(mean of x^2 over the last axis + epsilon), for [N, C] or [N, H, W, C]."""
  return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + epsilon)


class MinibatchStddev(layers.Layer):
  """[N, H, W, C] -> [N, H, W, C + 1]: each group's mean stddev as one more map; example i is
  in group i % (N / group_size), as in the paper's code; N divisible by min(group_size, N)."""

  def __init__(self,
               group_size=4,     # mbstd_group_size: examples per statistics group.
               epsilon=1e-8,     # Added to the variance before the square root.
               **kwargs):
    super().__init__(**kwargs)
    self.group_size, self.epsilon = group_size, epsilon

  def call(self, x):
    batch, height, width, channels = x.shape
    group = self.group_size if batch is None else min(self.group_size, batch)
    # [G, M, H, W, C]: G examples per group, M groups.
    y = tf.cast(tf.reshape(x, [group, -1, height, width, channels]), tf.float32)
    y -= tf.reduce_mean(y, axis=0, keepdims=True)
    stddev = tf.sqrt(tf.reduce_mean(tf.square(y), axis=0) + self.epsilon)  # [M, H, W, C]
    stddev = tf.reduce_mean(stddev, axis=[1, 2, 3])                      # [M]
    stddev = tf.cast(tf.reshape(stddev, [-1, 1, 1, 1]), x.dtype)
    return tf.concat([x, tf.tile(stddev, [group, height, width, 1])], axis=-1)


def leaky_relu(x):
  # Not the LeakyRelu op: TensorFlow 2.21's remapper fails on its gradient here and logs it.
  return tf.maximum(x, LEAKY_RELU_SLOPE * x)


def upsample(x, factor=2):
  """Nearest-neighbour [N, H, W, C] -> [N, factor*H, factor*W, C]."""
  if factor == 1:
    return x
  _, height, width, channels = x.shape
  # Cheaper to trace and to differentiate twice than tf.repeat's gather.
  x = tf.tile(x[:, :, None, :, None, :], [1, 1, factor, 1, factor, 1])
  return tf.reshape(x, [-1, height * factor, width * factor, channels])


def downsample(x):
  """2x2 average pooling, [N, H, W, C] -> [N, H/2, W/2, C]."""
  return tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="VALID")


def num_features(stage, fmap_base, fmap_decay, fmap_max):
  """max(1, min(fmap_base / 2^(stage * fmap_decay), fmap_max)); stage s serves 2^(s+1)."""
  return max(1, min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max))

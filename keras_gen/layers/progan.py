"""Building blocks of Progressive GAN (Karras et al. 2018, "Progressive Growing of
GANs for Improved Quality, Stability, and Variation").

  EqualizedConv2D / EqualizedDense  sec. 4.1: weights drawn from N(0, 1) and
      multiplied at runtime by He's constant gain / sqrt(fan_in), so every layer
      learns at the same speed under Adam.
  pixel_norm       sec. 4.2: each pixel's feature vector divided by its RMS.
  MinibatchStddev  sec. 3: the standard deviation of each feature over a group
      of examples, averaged into one extra feature map.
  upsample / downsample  nearest-neighbour 2x and 2x2 average pooling.

All images and feature maps are NHWC.
"""

import math

import keras
import tensorflow as tf
from keras import layers

# He's gain for a LeakyReLU(0.2) network, as the paper's code uses (sqrt(2) for ReLU).
HE_GAIN = math.sqrt(2.0)
LEAKY_RELU_SLOPE = 0.2


class EqualizedDense(layers.Layer):
  """A dense layer with equalized learning rate: y = x @ (w * gain / sqrt(fan_in)) + b.

  Input [N, fan_in], output [N, units]; w ~ N(0, 1), b = 0 at init, so with
  unit-variance inputs the output variance is gain^2 (1 for gain 1).
  """

  def __init__(self,
               units,            # Output features.
               gain=HE_GAIN,     # Runtime multiplier of the He constant 1 / sqrt(fan_in).
               **kwargs):
    super().__init__(**kwargs)
    self.units = units
    self.gain = gain

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
  """A stride-1 'same' convolution with equalized learning rate.

  Input [N, H, W, C_in], output [N, H, W, filters]; w ~ N(0, 1) scaled at
  runtime by gain / sqrt(kernel_size^2 * C_in), b = 0 at init.
  """

  def __init__(self,
               filters,          # Output feature maps.
               kernel_size=3,    # 3 for the blocks, 1 for toRGB / fromRGB.
               gain=HE_GAIN,
               **kwargs):
    super().__init__(**kwargs)
    self.filters = filters
    self.kernel_size = kernel_size
    self.gain = gain

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
  """x / sqrt(mean over channels of x^2 + epsilon): unit mean square per pixel (sec. 4.2).

  Works on [N, C] latents and [N, H, W, C] feature maps (the last axis is normalized).
  """
  return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + epsilon)


class MinibatchStddev(layers.Layer):
  """Appends one feature map: the average feature stddev within groups of examples (sec. 3).

  Input [N, H, W, C], output [N, H, W, C + 1]. The batch is split into groups
  of `group_size` consecutive examples (strided, as in the paper's code: example
  i belongs to group i % (N / group_size)); for each group the standard
  deviation of every feature and pixel over the group is averaged into one
  number, which becomes a constant map for every example of that group. N
  must be divisible by min(group_size, N); the group is the whole batch when
  it is smaller than group_size.
  """

  def __init__(self,
               group_size=4,     # mbstd_group_size: examples per statistics group.
               epsilon=1e-8,     # Added to the variance before the square root.
               **kwargs):
    super().__init__(**kwargs)
    self.group_size = group_size
    self.epsilon = epsilon

  def call(self, x):
    batch = x.shape[0]
    group = self.group_size if batch is None else min(self.group_size, batch)
    _, height, width, channels = x.shape
    # [G, M, H, W, C]: G examples per group, M groups.
    y = tf.reshape(x, [group, -1, height, width, channels])
    y = tf.cast(y, tf.float32)
    y -= tf.reduce_mean(y, axis=0, keepdims=True)
    stddev = tf.sqrt(tf.reduce_mean(tf.square(y), axis=0) + self.epsilon)  # [M, H, W, C]
    stddev = tf.reduce_mean(stddev, axis=[1, 2, 3])                      # [M]
    stddev = tf.cast(tf.reshape(stddev, [-1, 1, 1, 1]), x.dtype)
    # Example i uses the statistic of group i % M, the inverse of the reshape above.
    stddev_map = tf.tile(stddev, [group, height, width, 1])
    return tf.concat([x, stddev_map], axis=-1)


def leaky_relu(x):
  # max(x, 0.2 x), as the paper's code writes it. TensorFlow 2.21's graph optimizer fails on
  # the LeakyRelu op here (its gradient reads the conv's bias add, which the remapper fuses
  # away) and logs "remapper failed" on every run; the values are the same.
  return tf.maximum(x, LEAKY_RELU_SLOPE * x)


def upsample(x, factor=2):
  """Nearest-neighbour upsampling, [N, H, W, C] -> [N, factor*H, factor*W, C]."""
  if factor == 1:
    return x
  _, height, width, channels = x.shape
  # A tile and a reshape: cheaper to trace and to differentiate twice (the
  # gradient penalty does) than tf.repeat's gather.
  x = tf.tile(x[:, :, None, :, None, :], [1, 1, factor, 1, factor, 1])
  return tf.reshape(x, [-1, height * factor, width * factor, channels])


def downsample(x):
  """2x2 average pooling (a box filter), [N, H, W, C] -> [N, H/2, W/2, C]."""
  return tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="VALID")


def num_features(stage, fmap_base, fmap_decay, fmap_max):
  """Feature maps at a stage: min(fmap_base / 2^(stage * fmap_decay), fmap_max).

  Stage s serves resolution 2^(s+1) (the paper's code: block 2^r uses nf(r - 1)).
  At least 1, where the paper's code would build an empty layer.
  """
  return max(1, min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max))

"""The growing G and D of Progressive GAN (Karras et al. 2018, table 2), built with every block.

A call takes `level` (log2 of the image side, a Python int: each traces its own graph) and
`alpha` (a float tensor in [0, 1]) that fades the block of `level` in over the level below.
"""

import functools
import math
import warnings

import keras
import tensorflow as tf

from keras_gen.layers import progan as progan_layers

MIN_LEVEL = 2  # 4x4, the paper's starting resolution.


def lerp(a, b, t):
  return a + (b - a) * tf.cast(t, a.dtype)


def _conv_blocks(max_level, features):
  """{"b8": (conv0, conv1), ...}: two 3x3 convolutions with features(level) maps per level."""
  blocks = {}
  for level in range(MIN_LEVEL + 1, max_level + 1):
    size, (first, second) = 2 ** level, features(level)
    blocks[f"b{size}"] = (progan_layers.EqualizedConv2D(first, 3, name=f"b{size}_conv0"),
                          progan_layers.EqualizedConv2D(second, 3, name=f"b{size}_conv1"))
  return blocks


def _trainable_at(level, layers, rgb, blocks):
  """The weights of `layers`, the RGB layer of the level below and the blocks up to `level`."""
  if level > MIN_LEVEL:
    layers = layers + [rgb[f"b{2 ** (level - 1)}"]]
  for current in range(MIN_LEVEL + 1, level + 1):
    layers = layers + list(blocks[f"b{2 ** current}"])
  return [v for layer in layers for v in layer.trainable_variables]


class Generator(keras.Model):
  """z [N, latent_dim] -> images [N, 2^level, 2^level, C], linear output (about [-1, 1])."""

  def __init__(self,
               resolution,          # Final output size, a power of two >= 4.
               channels,            # Image channels, 1 or 3.
               latent_dim=512,      # Size of z.
               fmap_base=8192,      # Feature maps: min(fmap_base / 2^(stage * fmap_decay), fmap_max).
               fmap_decay=1.0,
               fmap_max=512,
               **kwargs):
    super().__init__(**kwargs)
    self.max_level = int(math.log2(resolution))
    self.latent_dim = latent_dim
    nf = functools.partial(progan_layers.num_features, fmap_base=fmap_base,
                           fmap_decay=fmap_decay, fmap_max=fmap_max)

    # Keyed "b4", "b8", ...: TensorFlow's object graph saves string keys only. Gain sqrt(2)/4
    # gives each of b4's 16 pixels a He-initialized variance, as in the paper's code.
    self.b4_dense = progan_layers.EqualizedDense(
        nf(1) * 16, gain=progan_layers.HE_GAIN / 4, name="b4_dense")
    self.b4_conv = progan_layers.EqualizedConv2D(nf(1), 3, name="b4_conv")
    self.blocks = _conv_blocks(self.max_level, lambda level: (nf(level - 1), nf(level - 1)))
    self.to_rgb = {f"b{2 ** level}": progan_layers.EqualizedConv2D(
        channels, 1, gain=1.0, name=f"b{2 ** level}_torgb")
                   for level in range(MIN_LEVEL, self.max_level + 1)}

  def _block(self, x, level):
    if level == MIN_LEVEL:
      x = self.b4_dense(progan_layers.pixel_norm(x))
      x = keras.ops.reshape(x, [-1, 4, 4, self.b4_conv.filters])
      x = progan_layers.pixel_norm(progan_layers.leaky_relu(x))
      return progan_layers.pixel_norm(progan_layers.leaky_relu(self.b4_conv(x)))
    conv0, conv1 = self.blocks[f"b{2 ** level}"]
    x = progan_layers.pixel_norm(progan_layers.leaky_relu(conv0(progan_layers.upsample(x))))
    return progan_layers.pixel_norm(progan_layers.leaky_relu(conv1(x)))

  def variables_at(self, level):
    """The trainable weights a call at `level` uses: blocks up to it, toRGB of it and below."""
    layers = [self.b4_dense, self.b4_conv, self.to_rgb[f"b{2 ** level}"]]
    return _trainable_at(level, layers, self.to_rgb, self.blocks)

  def call(self, z, level=None, alpha=1.0, training=False):
    level = self.max_level if level is None else level
    x = z
    for current in range(MIN_LEVEL, level):
      x = self._block(x, current)
    if level == MIN_LEVEL:
      return self.to_rgb["b4"](self._block(x, MIN_LEVEL))
    new = self.to_rgb[f"b{2 ** level}"](self._block(x, level))
    old = progan_layers.upsample(self.to_rgb[f"b{2 ** (level - 1)}"](x))
    return lerp(old, new, alpha)


class Discriminator(keras.Model):
  """images [N, 2^level, 2^level, C] -> critic scores [N, 1]."""

  def __init__(self,
               resolution,          # Largest input size, a power of two >= 4.
               fmap_base=8192,
               fmap_decay=1.0,
               fmap_max=512,
               mbstd_group_size=4,  # Examples per minibatch-stddev group; 0 disables it.
               **kwargs):
    super().__init__(**kwargs)
    self.max_level = int(math.log2(resolution))
    nf = functools.partial(progan_layers.num_features, fmap_base=fmap_base,
                           fmap_decay=fmap_decay, fmap_max=fmap_max)

    self.from_rgb = {f"b{2 ** level}": progan_layers.EqualizedConv2D(
        nf(level - 1), 1, name=f"b{2 ** level}_fromrgb")
                     for level in range(MIN_LEVEL, self.max_level + 1)}
    self.blocks = _conv_blocks(self.max_level, lambda level: (nf(level - 1), nf(level - 2)))
    self.mbstd = (progan_layers.MinibatchStddev(mbstd_group_size, name="b4_mbstd")
                  if mbstd_group_size > 0 else None)
    self.b4_conv = progan_layers.EqualizedConv2D(nf(1), 3, name="b4_conv")
    self.b4_dense = progan_layers.EqualizedDense(nf(0), name="b4_dense")
    self.b4_score = progan_layers.EqualizedDense(1, gain=1.0, name="b4_score")
    self.flatten = keras.layers.Flatten()

  def _block(self, x, level):
    conv0, conv1 = self.blocks[f"b{2 ** level}"]
    x = progan_layers.leaky_relu(conv0(x))
    return progan_layers.downsample(progan_layers.leaky_relu(conv1(x)))

  def _from_rgb(self, images, level):
    return progan_layers.leaky_relu(self.from_rgb[f"b{2 ** level}"](images))

  def variables_at(self, level):
    """The trainable weights a call at `level` uses: fromRGB of it and below, blocks up to it."""
    layers = [self.from_rgb[f"b{2 ** level}"], self.b4_conv, self.b4_dense, self.b4_score]
    return _trainable_at(level, layers, self.from_rgb, self.blocks)

  def features(self, images, level=None, alpha=1.0, training=False):
    """b4's conv output before D's dense layers, flattened: [N, 16 * nf(1)] (8192 in the paper)."""
    del training  # D has no layer that behaves differently in training.
    level = self.max_level if level is None else level
    if level == MIN_LEVEL:
      x = self._from_rgb(images, MIN_LEVEL)
    else:
      new = self._block(self._from_rgb(images, level), level)
      old = self._from_rgb(progan_layers.downsample(images), level - 1)
      x = lerp(old, new, alpha)
    for current in range(level - 1, MIN_LEVEL, -1):
      x = self._block(x, current)
    if self.mbstd is not None:
      x = self.mbstd(x)
    return self.flatten(progan_layers.leaky_relu(self.b4_conv(x)))

  def call(self, images, level=None, alpha=1.0, training=False):
    features = self.features(images, level=level, alpha=alpha, training=training)
    return self.b4_score(progan_layers.leaky_relu(self.b4_dense(features)))


def build_all_levels(G, D, batch_size=4):
  """Calls G and D at every level, the top first: a SavedModel's default signature traces
  the first call's input shape."""
  z = tf.zeros([batch_size, G.latent_dim])
  with warnings.catch_warnings():
    # Keras warns that the lower levels' layers are unbuilt after the first call; we build them.
    warnings.filterwarnings("ignore", message=r"`build\(\)` was called on layer")
    for level in range(G.max_level, MIN_LEVEL - 1, -1):
      D(G(z, level=level, alpha=0.5), level=level, alpha=0.5)

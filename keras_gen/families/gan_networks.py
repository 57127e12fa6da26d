"""MLP (Goodfellow et al. 2014; Metz et al. 2017) and DCGAN (Radford et al. 2016) networks for
the GAN family. Batch norm is synchronized, so N replicas see the global batch's statistics.
"""

import math

import keras
from keras import layers

from keras_gen.layers import resolution_plan


def _dcgan_init():
  return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _batch_norm():
  # Momentum 0.9 and epsilon 1e-5 are the DCGAN reference implementation's values.
  return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True)


# Batch norm (DCGAN, WGAN), or layer norm or none for a gradient penalty (Gulrajani et al. 2017).
D_NORMS = ("batch", "layer", "none")


def _d_norm(kind):
  if kind == "batch":
    return _batch_norm()
  if kind == "layer":
    return layers.LayerNormalization(epsilon=1e-5)
  return None


# The MLP G's: none, or batch norm before every ReLU (Lin et al. 2018, PacGAN's toy G).
G_NORMS = ("none", "batch")


class MLPGenerator(keras.Model):
  """z [N, latent_dim] -> images [N, H, W, C] in [-1, 1] (tanh) or points [N, 2] (linear)."""

  def __init__(self,
               output_shape,       # (H, W, C) for images, (2,) for points.
               hidden_units=128,   # Width of every hidden layer.
               hidden_layers=2,    # Number of ReLU hidden layers.
               norm="none",        # One of G_NORMS, applied before every ReLU.
               **kwargs):
    super().__init__(**kwargs)
    self.image_output = len(output_shape) == 3
    batch_norm = norm == "batch"
    # A bias before batch norm is cancelled by its mean subtraction.
    self.hidden = [layers.Dense(hidden_units, use_bias=not batch_norm)
                   for _ in range(hidden_layers)]
    self.norms = [_batch_norm() if batch_norm else None for _ in range(hidden_layers)]
    self.to_output = layers.Dense(math.prod(output_shape), dtype="float32")
    self.reshape = layers.Reshape(tuple(output_shape))

  def call(self, z, training=False):
    x = z
    for dense, norm in zip(self.hidden, self.norms):
      x = dense(x)
      if norm is not None:
        x = norm(x, training=training)
      x = keras.ops.relu(x)
    x = self.reshape(self.to_output(x))
    return keras.ops.tanh(x) if self.image_output else x


class MLPDiscriminator(keras.Model):
  """images [N, H, W, C] or points [N, 2] -> logits [N, 1]; no normalization layers."""

  def __init__(self,
               hidden_units=128,   # Width of every hidden layer.
               hidden_layers=2,    # Number of LeakyReLU(0.2) hidden layers.
               **kwargs):
    super().__init__(**kwargs)
    self.flatten = layers.Flatten()
    self.hidden = [layers.Dense(hidden_units) for _ in range(hidden_layers)]
    self.to_logit = layers.Dense(1, dtype="float32")

  def features(self, inputs, training=False):
    """The last hidden layer's activations: [N, hidden_units]."""
    x = self.flatten(inputs)
    for dense in self.hidden:
      x = keras.ops.leaky_relu(dense(x), negative_slope=0.2)
    return x

  def call(self, inputs, training=False):
    return self.to_logit(self.features(inputs, training=training))


class DCGANGenerator(keras.Model):
  """z [N, latent_dim] -> images [N, H, W, C] in [-1, 1]."""

  def __init__(self,
               image_shape,        # (H, W, C) of the images to generate.
               latent_dim=100,     # Size of z.
               base_filters=64,    # Feature maps of the last hidden layer (ngf).
               **kwargs):
    super().__init__(**kwargs)
    height, _, channels = image_shape
    start, doublings = resolution_plan(height)
    top_filters = base_filters * 2 ** max(doublings - 1, 0)
    self.project = layers.Dense(start * start * top_filters, use_bias=False,
                                kernel_initializer=_dcgan_init())
    self.reshape = layers.Reshape((start, start, top_filters))
    self.project_norm = _batch_norm()
    self.blocks = [(layers.Conv2DTranspose(top_filters // 2 ** (index + 1), 4, strides=2,
                                           padding="same", use_bias=False,
                                           kernel_initializer=_dcgan_init()),
                    _batch_norm())
                   for index in range(doublings - 1)]
    # An image no larger than the start map (4x4) needs no last upsampling.
    self.to_image = layers.Conv2DTranspose(channels, 4, strides=2 if doublings else 1,
                                           padding="same", kernel_initializer=_dcgan_init(),
                                           dtype="float32")

  def call(self, z, training=False):
    x = self.reshape(self.project(z))
    x = keras.ops.relu(self.project_norm(x, training=training))
    for convolution, norm in self.blocks:
      x = keras.ops.relu(norm(convolution(x), training=training))
    return keras.ops.tanh(self.to_image(x))


class DCGANDiscriminator(keras.Model):
  """images [N, H, W, C] in [-1, 1] -> logits [N, 1]."""

  def __init__(self,
               image_shape,        # (H, W, C) of the input images.
               base_filters=64,    # Feature maps of the first layer (ndf).
               norm="batch",       # A name in D_NORMS; "none" or "layer" for WGAN-GP critics.
               **kwargs):
    super().__init__(**kwargs)
    _, doublings = resolution_plan(image_shape[0])
    self.blocks = [(layers.Conv2D(base_filters * 2 ** index, 4, strides=2, padding="same",
                                  use_bias=index == 0 or norm == "none",  # No norm follows.
                                  kernel_initializer=_dcgan_init()),
                    _d_norm(norm) if index else None)
                   for index in range(doublings)]
    self.flatten = layers.Flatten()
    self.to_logit = layers.Dense(1, kernel_initializer=_dcgan_init(), dtype="float32")

  def features(self, images, training=False):
    """The last convolutional features, flattened: [N, features]."""
    x = images
    for convolution, norm in self.blocks:
      x = convolution(x)
      if norm is not None:
        x = norm(x, training=training)
      x = keras.ops.leaky_relu(x, negative_slope=0.2)
    return self.flatten(x)

  def call(self, images, training=False):
    return self.to_logit(self.features(images, training=training))


ARCHITECTURES = ("dcgan", "mlp")


def make_generator(architecture, element_shape, hparams, name="G"):
  """G for (H, W, C) images or (2,) points (mlp only); architecture in ARCHITECTURES."""
  if architecture == "mlp":
    return MLPGenerator(element_shape, hidden_units=hparams["g_units"],
                        hidden_layers=hparams["g_layers"], norm=hparams["g_norm"], name=name)
  if len(element_shape) != 3:
    raise ValueError(f"architecture='dcgan' generates images, but the data has elements of "
                     f"shape {tuple(element_shape)}; use architecture='mlp' for points.")
  return DCGANGenerator(element_shape, latent_dim=hparams["latent_dim"],
                        base_filters=hparams["g_filters"], name=name)


def make_discriminator(architecture, element_shape, hparams):
  if architecture == "mlp":
    return MLPDiscriminator(hidden_units=hparams["d_units"], hidden_layers=hparams["d_layers"],
                            name="D")
  return DCGANDiscriminator(element_shape, base_filters=hparams["d_filters"],
                            norm=hparams["d_norm"], name="D")

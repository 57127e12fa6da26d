"""Generator and discriminator networks for the GAN family.

DCGAN (Radford et al. 2016): a projection of z reshaped to a small map, then
fractionally-strided 4x4 convolutions with batch norm and ReLU in G, a tanh
output; strided 4x4 convolutions with LeakyReLU(0.2) in D, batch norm on every
layer but D's first. Weights start from N(0, 0.02), as in the paper.

Batch norm is synchronized across replicas, so a step on N replicas sees the
statistics of the global batch, exactly as one device would.
"""

import keras
from keras import layers

from keras_gen.layers import resolution_plan


def _dcgan_init():
  return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def _batch_norm():
  # Momentum 0.9 and epsilon 1e-5 are the DCGAN reference implementation's values.
  return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, synchronized=True)


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
    self.blocks = []
    for index in range(doublings - 1):
      filters = top_filters // 2 ** (index + 1)
      self.blocks.append((
          layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                 kernel_initializer=_dcgan_init()),
          _batch_norm()))
    self.to_image = layers.Conv2DTranspose(channels, 4, strides=2, padding="same",
                                           kernel_initializer=_dcgan_init(), dtype="float32")

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
               batch_norm=True,    # False for critics under a gradient penalty.
               **kwargs):
    super().__init__(**kwargs)
    _, doublings = resolution_plan(image_shape[0])
    self.blocks = []
    for index in range(doublings):
      norm = _batch_norm() if batch_norm and index > 0 else None
      self.blocks.append((
          layers.Conv2D(base_filters * 2 ** index, 4, strides=2, padding="same",
                        use_bias=norm is None, kernel_initializer=_dcgan_init()),
          norm))
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


ARCHITECTURES = ("dcgan",)


def make_generator(architecture, image_shape, hparams):
  if architecture == "dcgan":
    return DCGANGenerator(image_shape, latent_dim=hparams["latent_dim"],
                          base_filters=hparams["g_filters"], name="G")
  raise ValueError(f"Unknown GAN architecture {architecture!r}; expected one of {ARCHITECTURES}.")


def make_discriminator(architecture, image_shape, hparams):
  if architecture == "dcgan":
    return DCGANDiscriminator(image_shape, base_filters=hparams["d_filters"],
                              batch_norm=hparams["d_batch_norm"], name="D")
  raise ValueError(f"Unknown GAN architecture {architecture!r}; expected one of {ARCHITECTURES}.")

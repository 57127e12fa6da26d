"""The undercomplete autoencoder x -> h = f(x) -> r = g(h) (Goodfellow et al. 2016, ch. 14);
reconstruction_loss "mse" (pixels in [-1, 1]) or "bernoulli" (logits, pixels in [0, 1], nats).
"""

import keras
import tensorflow as tf
from keras import layers

from keras_gen import losses
from keras_gen.families import base
from keras_gen.layers import resolution_plan

KIND = "autoencoder"
ARCHITECTURES = ("mlp", "conv")
RECONSTRUCTION_LOSSES = ("mse", "bernoulli")

DEFAULT_HPARAMS = {
    "architecture": "conv",      # "mlp" or "conv".
    "code_size": 32,             # Dimension of h; must be smaller than the input.
    "hidden_units": 512,         # MLP hidden layer width.
    "filters": 32,               # Conv: feature maps of the first layer, doubling per level.
    "reconstruction_loss": "mse",
    "learning_rate": 1e-3,       # Adam.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "architecture", ARCHITECTURES)
  base.check_choice(hparams, "reconstruction_loss", RECONSTRUCTION_LOSSES)
  base.check_values(hparams, ("code_size", "hidden_units", "filters"),
                    lambda value: value < 1, "positive")


class MLPEncoder(keras.Model):
  """images [N, H, W, C] -> code [N, code_size]."""

  def __init__(self, code_size, hidden_units, **kwargs):
    super().__init__(**kwargs)
    self.flatten = layers.Flatten()
    self.hidden = layers.Dense(hidden_units, activation="relu")
    self.to_code = layers.Dense(code_size, dtype="float32")

  def call(self, images, training=False):
    return self.to_code(self.hidden(self.flatten(images)))


class MLPDecoder(keras.Model):
  """code [N, code_size] -> decoder outputs [N, H, W, C] (pre-activation)."""

  def __init__(self, image_shape, hidden_units, **kwargs):
    super().__init__(**kwargs)
    height, width, channels = image_shape
    self.hidden = layers.Dense(hidden_units, activation="relu")
    self.to_pixels = layers.Dense(height * width * channels, dtype="float32")
    self.reshape = layers.Reshape(image_shape)

  def call(self, code, training=False):
    return self.reshape(self.to_pixels(self.hidden(code)))


class ConvEncoder(keras.Model):
  """Strided 3x3 convolutions down to a small map, then a dense code."""

  def __init__(self, image_shape, code_size, filters, **kwargs):
    super().__init__(**kwargs)
    _, doublings = resolution_plan(image_shape[0])
    self.convolutions = [
        layers.Conv2D(filters * 2 ** level, 3, strides=2, padding="same", activation="relu")
        for level in range(doublings)]
    self.flatten = layers.Flatten()
    self.to_code = layers.Dense(code_size, dtype="float32")

  def call(self, images, training=False):
    x = images
    for convolution in self.convolutions:
      x = convolution(x)
    return self.to_code(self.flatten(x))


class ConvDecoder(keras.Model):
  """A dense projection to a small map, then transposed convolutions up to the image."""

  def __init__(self, image_shape, filters, **kwargs):
    super().__init__(**kwargs)
    height, _, channels = image_shape
    start, doublings = resolution_plan(height)
    top_filters = filters * 2 ** max(doublings - 1, 0)
    self.project = layers.Dense(start * start * top_filters, activation="relu")
    self.reshape = layers.Reshape((start, start, top_filters))
    self.convolutions = [
        layers.Conv2DTranspose(top_filters // 2 ** (level + 1), 3, strides=2, padding="same",
                               activation="relu")
        for level in range(doublings - 1)]
    self.to_pixels = layers.Conv2DTranspose(channels, 3, strides=2 if doublings else 1,
                                            padding="same", dtype="float32")

  def call(self, code, training=False):
    x = self.reshape(self.project(code))
    for convolution in self.convolutions:
      x = convolution(x)
    return self.to_pixels(x)


def build(hparams, element_shape):
  element_shape = tuple(element_shape)
  if hparams["code_size"] >= element_shape[0] * element_shape[1] * element_shape[2]:
    raise ValueError(f"code_size={hparams['code_size']} is not smaller than the input "
                     f"{element_shape}; an undercomplete autoencoder needs a smaller code.")
  if hparams["architecture"] == "mlp":
    encoder = MLPEncoder(hparams["code_size"], hparams["hidden_units"], name="encoder")
    decoder = MLPDecoder(element_shape, hparams["hidden_units"], name="decoder")
  else:
    encoder = ConvEncoder(element_shape, hparams["code_size"], hparams["filters"], name="encoder")
    decoder = ConvDecoder(element_shape, hparams["filters"], name="decoder")
  decoder(encoder(tf.zeros([1, *element_shape])))
  return {"encoder": encoder, "decoder": decoder}


def trainable(networks):
  return networks["encoder"].trainable_variables + networks["decoder"].trainable_variables


def optimizers(hparams, networks):
  return {"autoencoder": (keras.optimizers.Adam(hparams["learning_rate"]), trainable(networks))}


def to_images(decoder_outputs, hparams):
  """Decoder outputs -> images in [-1, 1] (the Bernoulli mean for the Bernoulli loss)."""
  if hparams["reconstruction_loss"] == "bernoulli":
    return tf.sigmoid(decoder_outputs) * 2.0 - 1.0
  return tf.clip_by_value(decoder_outputs, -1.0, 1.0)


def reconstruction_loss(images, decoder_outputs, hparams):
  """Per-example loss of decoder outputs against images in [-1, 1]."""
  if hparams["reconstruction_loss"] == "bernoulli":
    return losses.bernoulli_cross_entropy((images + 1.0) / 2.0, decoder_outputs)
  pixels = tf.cast(tf.reduce_prod(tf.shape(images)[1:]), tf.float32)
  return losses.squared_error(images, decoder_outputs) / pixels


def train_step(networks, optimizers, batch, context, hparams, encoder_inputs=None):
  """One update reconstructing batch["images"] from encoder_inputs (default: the images)."""
  images = batch["images"]
  inputs = images if encoder_inputs is None else encoder_inputs
  with tf.GradientTape() as tape:
    outputs = networks["decoder"](networks["encoder"](inputs, training=True), training=True)
    loss = context.average(reconstruction_loss(images, outputs, hparams))
  context.minimize(tape, loss, trainable(networks), optimizers["autoencoder"])
  return {"loss": loss, "mse": context.average(pixel_error(images, to_images(outputs, hparams)))}


def pixel_error(images, reconstructions):
  """Mean squared error [N] on the [0, 1] scale of images in [-1, 1], whatever the loss."""
  return tf.reduce_mean(tf.square((reconstructions - images) / 2.0), axis=[1, 2, 3])


def side_by_side(*image_batches):
  """Interleaves k equal [N, H, W, C] batches: a0, b0, ..., a1, b1, ... -> [k * N, H, W, C]."""
  return tf.reshape(tf.stack(image_batches, axis=1), [-1, *image_batches[0].shape[1:]])


def encoder_code(encoder, images, hparams, training=False):
  del hparams
  return encoder(images, training=training)


def summaries(networks, batch, context, hparams, code=encoder_code):
  """Each held-out image beside its reconstruction through `code` and the decoder."""
  del context
  images = batch["images"]
  functions = serving(networks, hparams, code)
  return {"reconstructions": side_by_side(images, functions.decode(functions.encode(images)))}


def serving(networks, hparams, code=encoder_code):
  encoder, decoder = networks["encoder"], networks["decoder"]
  return base.AutoencoderServing(
      encode=lambda images: code(encoder, images, hparams),
      decode=lambda h: to_images(decoder(h, training=False), hparams),
      code_shape=(hparams["code_size"],))

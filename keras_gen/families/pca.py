"""PCA as an encoder-decoder, h = V_k^T (x - m), r = V_k h + m (Goodfellow et al. 2016, 2.12):
"closed_form" (model `pca`) solves V_k from streamed float64 moments; "gradient_descent"
(`linear_autoencoder`) trains linear layers spanning the same subspace (Baldi & Hornik 1989)."""

import math

import keras
import tensorflow as tf
from keras import layers

from keras_gen.families import autoencoder
from keras_gen.families import base

KIND = "autoencoder"
METHODS = ("closed_form", "gradient_descent")

DEFAULT_HPARAMS = {
    "method": "closed_form",   # "closed_form" (streamed PCA) or "gradient_descent".
    "code_size": 32,           # k, the number of principal components.
    "learning_rate": 1e-3,     # Adam, gradient_descent only.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "method", METHODS)
  base.check_values(hparams, ("code_size",), lambda value: value < 1, "positive")


class PrincipalComponents(layers.Layer):
  """Running float64 moments of flattened images, count [], total [D], outer_total [D, D],
  and the PCA they define; calling it returns the images."""

  def __init__(self, code_size, **kwargs):
    super().__init__(**kwargs)
    self.code_size = code_size

  def build(self, input_shape):
    self.image_shape = tuple(int(d) for d in input_shape[1:])
    size = math.prod(self.image_shape)
    # `accumulate` sums the updates over replicas itself: aggregation="sum" would count the
    # old total once per replica.
    moment = dict(initializer="zeros", trainable=False, dtype="float64",
                  aggregation="only_first_replica")
    self.count = self.add_weight(shape=(), name="count", **moment)
    self.total = self.add_weight(shape=(size,), name="total", **moment)
    self.outer_total = self.add_weight(shape=(size, size), name="outer_total", **moment)

  def call(self, images):
    return images

  def accumulate(self, images, all_reduce_sum):
    """Adds images [N, H, W, C], summed over replicas by `all_reduce_sum`, to the moments."""
    x = tf.cast(tf.reshape(images, [tf.shape(images)[0], -1]), tf.float64)
    updates = all_reduce_sum([tf.cast(tf.shape(x)[0], tf.float64), tf.reduce_sum(x, axis=0),
                              tf.matmul(x, x, transpose_a=True)])
    return tf.group(*[variable.assign_add(update) for variable, update in
                      zip((self.count, self.total, self.outer_total), updates)])

  def components(self):
    """(mean [D], V_k [D, k], eigenvalues [k] in decreasing order), all float32."""
    count = tf.maximum(self.count, 1.0)
    mean = self.total / count
    covariance = self.outer_total / count - mean[:, None] * mean[None, :]
    eigenvalues, eigenvectors = tf.linalg.eigh(covariance)  # Ascending.
    top = tf.reverse(eigenvectors[:, -self.code_size:], axis=[1])
    return (tf.cast(mean, tf.float32), tf.cast(top, tf.float32),
            tf.cast(tf.reverse(eigenvalues[-self.code_size:], axis=[0]), tf.float32))


def pca_encode(images, mean, basis):
  """images [N, H, W, C] -> h [N, k]."""
  return tf.matmul(tf.reshape(images, [tf.shape(images)[0], -1]) - mean, basis)


def pca_decode(code, mean, basis, image_shape):
  """h [N, k] -> images [N, H, W, C], unclipped."""
  return tf.reshape(tf.matmul(code, basis, transpose_b=True) + mean, [-1, *image_shape])


def build(hparams, element_shape):
  element_shape = tuple(element_shape)
  size = math.prod(element_shape)
  if hparams["code_size"] > size:
    raise ValueError(f"code_size={hparams['code_size']} exceeds the {size} input dimensions.")
  if hparams["method"] == "closed_form":
    pca = PrincipalComponents(hparams["code_size"], name="pca")
    pca(tf.zeros([1, *element_shape]))
    return {"pca": pca}
  encoder = keras.Sequential([layers.Flatten(), layers.Dense(hparams["code_size"])],
                             name="encoder")
  decoder = keras.Sequential([layers.Dense(size), layers.Reshape(element_shape)], name="decoder")
  decoder(encoder(tf.zeros([1, *element_shape])))
  return {"encoder": encoder, "decoder": decoder}


def optimizers(hparams, networks):
  if hparams["method"] == "closed_form":
    return {}
  return {"linear_autoencoder": (keras.optimizers.Adam(hparams["learning_rate"]),
                                 autoencoder.trainable(networks))}


def train_step(networks, optimizers, batch, context, hparams):
  images = batch["images"]
  if hparams["method"] == "closed_form":
    pca = networks["pca"]
    with tf.control_dependencies([pca.accumulate(images, context.all_reduce_sum)]):
      mean, basis, _ = pca.components()
    reconstructions = pca_decode(pca_encode(images, mean, basis), mean, basis, images.shape[1:])
    return {"mse": context.average(autoencoder.pixel_error(images, reconstructions))}
  with tf.GradientTape() as tape:
    reconstructions = networks["decoder"](networks["encoder"](images, training=True))
    # Squared error per pixel on the [-1, 1] scale: the PCA objective.
    loss = context.average(tf.reduce_mean(tf.square(reconstructions - images), axis=[1, 2, 3]))
  context.minimize(tape, loss, autoencoder.trainable(networks),
                   optimizers["linear_autoencoder"])
  return {"loss": loss, "mse": context.average(autoencoder.pixel_error(images, reconstructions))}


def _functions(networks, hparams):
  """(encode, decode) on images in [-1, 1]; closed form: V_k solved once, here."""
  if hparams["method"] == "closed_form":
    pca = networks["pca"]
    mean, basis, _ = pca.components()
    return (lambda images: pca_encode(images, mean, basis),
            lambda code: tf.clip_by_value(pca_decode(code, mean, basis, pca.image_shape),
                                          -1.0, 1.0))
  encoder, decoder = networks["encoder"], networks["decoder"]
  return (lambda images: encoder(images, training=False),
          lambda code: tf.clip_by_value(decoder(code, training=False), -1.0, 1.0))


def summaries(networks, batch, context, hparams):
  del context
  images = batch["images"]
  encode, decode = _functions(networks, hparams)
  return {"reconstructions": autoencoder.side_by_side(images, decode(encode(images)))}


def serving(networks, hparams):
  # Solved eagerly at export, so a request does not redo the D x D eigendecomposition.
  encode, decode = _functions(networks, hparams)
  return base.AutoencoderServing(encode=encode, decode=decode, code_shape=(hparams["code_size"],))

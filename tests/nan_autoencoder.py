"""A test-only family: the autoencoder, whose loss turns NaN at chosen steps.

Registered under the name "nan_autoencoder" by the tests that use it.
"""

import tensorflow as tf

from keras_gen.families import autoencoder

KIND = autoencoder.KIND
DEFAULT_HPARAMS = dict(autoencoder.DEFAULT_HPARAMS, nan_steps=[0])
build = autoencoder.build
optimizers = autoencoder.optimizers
summaries = autoencoder.summaries
serving = autoencoder.serving


def train_step(networks, optimizers, batch, context, hparams):
  """The autoencoder step, with the loss multiplied by NaN when 1 + step is in nan_steps."""
  images = batch["images"]
  variables = networks["encoder"].trainable_variables + networks["decoder"].trainable_variables
  poisoned = tf.reduce_any(tf.equal(context.step + 1, tf.constant(hparams["nan_steps"], tf.int64)))
  with tf.GradientTape() as tape:
    outputs = networks["decoder"](networks["encoder"](images, training=True), training=True)
    loss = context.average(autoencoder.reconstruction_loss(images, outputs, hparams))
    loss = loss * tf.where(poisoned, float("nan"), 1.0)
  context.minimize(tape, loss, variables, optimizers["autoencoder"])
  return {"loss": loss}

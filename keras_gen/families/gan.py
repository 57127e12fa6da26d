"""The GAN family: a generator G and a discriminator D trained as a two-player game.

One step follows Goodfellow et al. (2014), Algorithm 1, with k = `d_steps`
discriminator updates per generator update; the discriminator sees a fresh
minibatch of z for each of them (and the same real batch). The generator's
update then uses the freshly updated discriminator, as in the DCGAN reference.
The loss pair is chosen by name from `keras_gen.losses.GAN_LOSSES`.
"""

import keras
import tensorflow as tf

from keras_gen import losses
from keras_gen.families import base
from keras_gen.families import gan_networks

KIND = "generator"
DATA_KINDS = ("images",)

DEFAULT_HPARAMS = {
    "architecture": "dcgan",     # Network shapes; see gan_networks.ARCHITECTURES.
    "latent_dim": 100,           # Size of z ~ N(0, I).
    "g_filters": 64,             # ngf: G's last hidden feature maps.
    "d_filters": 64,             # ndf: D's first feature maps.
    "d_batch_norm": True,        # Batch norm in D (all layers but the first).
    "loss": "non_saturating",    # A name in keras_gen.losses.GAN_LOSSES.
    "d_steps": 1,                # k: discriminator updates per generator update.
    "g_learning_rate": 2e-4,
    "d_learning_rate": 2e-4,
    "beta_1": 0.5,               # Adam's beta1; 0.5 stabilizes GANs (Radford et al. 2016).
    "beta_2": 0.999,
}


def validate_hparams(hparams):
  if hparams["architecture"] not in gan_networks.ARCHITECTURES:
    raise ValueError(f"architecture={hparams['architecture']!r} is not one of "
                     f"{', '.join(gan_networks.ARCHITECTURES)}.")
  losses.get_gan_loss(hparams["loss"])
  if hparams["d_steps"] < 1:
    raise ValueError(f"d_steps must be at least 1, got {hparams['d_steps']}.")


def build(hparams, element_shape):
  generator = gan_networks.make_generator(hparams["architecture"], element_shape, hparams)
  discriminator = gan_networks.make_discriminator(hparams["architecture"], element_shape, hparams)
  fake = generator(tf.zeros([1, hparams["latent_dim"]]))
  discriminator(fake)
  return {"G": generator, "D": discriminator}


def optimizers(hparams, networks):
  def adam(learning_rate):
    return keras.optimizers.Adam(learning_rate, beta_1=hparams["beta_1"],
                                 beta_2=hparams["beta_2"])
  return {"G": (adam(hparams["g_learning_rate"]), networks["G"].trainable_variables),
          "D": (adam(hparams["d_learning_rate"]), networks["D"].trainable_variables)}


def minibatches_per_step(hparams):
  """The batch holds k = d_steps minibatches: a fresh real minibatch for each D update."""
  return hparams["d_steps"]


def train_step(networks, optimizers, batch, context, hparams):
  generator_loss, discriminator_loss = losses.get_gan_loss(hparams["loss"])
  G, D = networks["G"], networks["D"]
  real_minibatches = tf.split(batch["images"], hparams["d_steps"])
  per_replica_batch = real_minibatches[0].shape[0]

  def update_discriminator(real, fake):
    with tf.GradientTape() as d_tape:
      real_logits = D(real, training=True)
      fake_logits = D(tf.stop_gradient(fake), training=True)
      d_loss = context.average(discriminator_loss(real_logits, fake_logits))
    base.minimize(d_tape, d_loss, D.trainable_variables, optimizers["D"])
    return d_loss

  for d_step, real in enumerate(real_minibatches[:-1]):
    z = context.normal([per_replica_batch, hparams["latent_dim"]], salt=d_step + 1)
    update_discriminator(real, G(z, training=True))
  z = context.normal([per_replica_batch, hparams["latent_dim"]], salt=0)
  with tf.GradientTape() as g_tape:
    fake = G(z, training=True)
    # The last D update reuses this G forward pass, as the DCGAN reference does;
    # the generator's loss then sees the updated D.
    with g_tape.stop_recording():
      d_loss = update_discriminator(real_minibatches[-1], fake)
    g_loss = context.average(generator_loss(D(fake, training=True)))
  base.minimize(g_tape, g_loss, G.trainable_variables, optimizers["G"])
  return {"d_loss": d_loss, "g_loss": g_loss}


def summaries(networks, batch, context, hparams):
  del batch
  z = context.normal([64, hparams["latent_dim"]], salt=1_000_003)
  return {"samples": networks["G"](z, training=False)}


def serving(networks, hparams):
  G = networks["G"]
  return base.GeneratorServing(generate=lambda z: G(z, training=False),
                               latent_dim=hparams["latent_dim"])

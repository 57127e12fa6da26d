"""The GAN family: n_critic D (or critic) updates per G update, G's against the freshly updated
D (Goodfellow et al. 2014, algorithm 1); presets, their papers and options in docs/training.md."""

import functools

import keras
import tensorflow as tf

from keras_gen import losses
from keras_gen import plots
from keras_gen.families import base
from keras_gen.families import gan_networks
from keras_gen.families import gan_stabilizers
from keras_gen.families import gan_unrolled
from keras_gen.families import salts

KIND = "generator"
DATA_KINDS = ("images", "points")

OPTIMIZERS = ("adam", "rmsprop")

DEFAULT_HPARAMS = {
    "architecture": "dcgan",     # Network shapes; see gan_networks.ARCHITECTURES.
    "latent_dim": 100,           # Size of z ~ N(0, I).
    "g_filters": 64,             # dcgan: ngf, G's last hidden feature maps.
    "d_filters": 64,             # dcgan: ndf, D's first feature maps.
    "d_norm": "batch",           # dcgan: D's normalization, one of gan_networks.D_NORMS.
    "g_units": 128,              # mlp: G's hidden width.
    "g_layers": 2,               # mlp: G's hidden layers.
    "g_norm": "none",            # mlp: G's normalization, one of gan_networks.G_NORMS.
    "d_units": 128,              # mlp: D's hidden width.
    "d_layers": 2,               # mlp: D's hidden layers.
    "loss": "non_saturating",    # A name in keras_gen.losses.GAN_LOSSES.
    "n_critic": 1,               # k: discriminator (critic) updates per generator update.
    "optimizer": "adam",         # adam or rmsprop (the WGAN paper's), for both networks.
    "g_learning_rate": 2e-4,
    "d_learning_rate": 2e-4,
    "learning_rate_decay_steps": 0,  # G step where both rates have decayed to 0; 0: constant.
    "learning_rate_decay_start": 0,  # The G step where that decay begins (0: from the start).
    "beta_1": 0.5,               # Adam's beta1; 0.5 stabilizes GANs (Radford et al. 2016).
    "beta_2": 0.999,
    "clip_value": 0.0,           # WGAN weight clipping of every D weight; 0 disables.
    "gradient_penalty_weight": 0.0,  # WGAN-GP's lambda; 0 disables.
    "r1_gamma": 0.0,             # R1 penalty gamma (Mescheder et al. 2018) on D; 0 disables.
    "r1_gamma_anneal_steps": 0,  # Linear decay of gamma to 0 over this many G steps; 0 keeps it.
    "instance_noise_std": 0.0,   # Std of Gaussian noise on D's inputs at step 0; 0 disables.
    "instance_noise_anneal_steps": 0,  # Linear decay of that std to 0; 0 keeps it constant.
    "ema_decay": 0.0,            # G_ema decay per G step, e.g. 0.999; 0 disables G_ema.
    "ema_warmup": False,         # Decay min(ema_decay, (1 + t) / (10 + t)) at G step t.
    "unroll_steps": 0,           # K simulated D steps in G's loss (Metz et al. 2017).
    "unroll_first_order": False,  # Drop the second-order term of the unrolled gradient.
}


def validate_hparams(hparams):
  base.check_choice(hparams, "architecture", gan_networks.ARCHITECTURES)
  base.check_choice(hparams, "d_norm", gan_networks.D_NORMS)
  base.check_choice(hparams, "g_norm", gan_networks.G_NORMS)
  base.check_choice(hparams, "optimizer", OPTIMIZERS)
  losses.get_gan_loss(hparams["loss"])
  base.check_values(hparams, ("n_critic", "latent_dim", "g_units", "d_units", "g_filters",
                             "d_filters"), lambda value: value < 1, "at least 1")
  base.check_values(hparams, ("n_critic", "unroll_steps"), lambda value: value > salts.MAX_INDEX,
                    f"at most {salts.MAX_INDEX} (the random streams have salts for "
                    f"{salts.MAX_INDEX} D updates per step)")
  base.check_values(hparams, ("clip_value", "gradient_penalty_weight", "r1_gamma",
                             "r1_gamma_anneal_steps", "instance_noise_std",
                             "instance_noise_anneal_steps", "unroll_steps", "g_layers", "d_layers",
                             "learning_rate_decay_steps", "learning_rate_decay_start"),
                    lambda value: value < 0, "0 or more")
  if hparams["learning_rate_decay_start"] >= max(hparams["learning_rate_decay_steps"], 1):
    raise ValueError(f"learning_rate_decay_start must be below learning_rate_decay_steps (the G "
                     f"step where the rates reach 0), got {hparams['learning_rate_decay_start']} "
                     f"and {hparams['learning_rate_decay_steps']}.")
  base.check_values(hparams, ("ema_decay",), lambda value: not 0.0 <= value < 1.0,
                    "in [0, 1) (0 disables G_ema)")
  base.check_values(hparams, ("beta_1", "beta_2"), lambda value: not 0.0 <= value < 1.0,
                    "in [0, 1)")  # Adam's beta_2 = 1 would divide by 0.
  for penalty in ("gradient_penalty_weight", "r1_gamma"):
    if hparams[penalty] > 0 and hparams["architecture"] == "dcgan" and hparams["d_norm"] == "batch":
      raise ValueError(f"{penalty} > 0 needs a critic that treats examples independently: "
                       f"set d_norm to 'layer' or 'none', not 'batch'.")
  if hparams["unroll_steps"] > 0 and hparams["optimizer"] != "adam":
    raise ValueError(f"unroll_steps > 0 simulates Adam updates of D, so optimizer must be "
                     f"'adam', not {hparams['optimizer']!r}.")


def build(hparams, element_shape):
  """{"G", "D"} and, with ema_decay > 0, "G_ema" (starting equal to G)."""
  element_shape = tuple(element_shape)
  networks = {
      "G": gan_networks.make_generator(hparams["architecture"], element_shape, hparams),
      "D": gan_networks.make_discriminator(hparams["architecture"], element_shape, hparams)}
  z = tf.zeros([1, hparams["latent_dim"]])
  networks["D"](networks["G"](z))
  if hparams["ema_decay"] > 0:
    networks["G_ema"] = gan_networks.make_generator(
        hparams["architecture"], element_shape, hparams, name="G_ema")
    networks["G_ema"](z)
    gan_stabilizers.copy_weights(networks["G_ema"], networks["G"])
  return networks


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
  """`initial` until update `start`, then linearly down to 0 at update `end`."""

  def __init__(self, initial, start, end):
    self.initial, self.start, self.end = initial, start, end

  def __call__(self, step):
    remaining = (self.end - tf.cast(step, tf.float32)) / (self.end - self.start)
    return self.initial * tf.clip_by_value(remaining, 0.0, 1.0)

  def get_config(self):
    return {"initial": self.initial, "start": self.start, "end": self.end}


def optimizers(hparams, networks):
  def make(learning_rate, updates_per_g_step):
    # The schedule counts the optimizer's own updates: D's take n_critic per G step.
    if hparams["learning_rate_decay_steps"] != 0:
      learning_rate = LinearDecay(learning_rate,
                                  hparams["learning_rate_decay_start"] * updates_per_g_step,
                                  hparams["learning_rate_decay_steps"] * updates_per_g_step)
    if hparams["optimizer"] == "rmsprop":
      # The WGAN paper's RMSProp has no momentum; rho 0.9 is its (Torch) default decay.
      return keras.optimizers.RMSprop(learning_rate, rho=0.9)
    return keras.optimizers.Adam(learning_rate, beta_1=hparams["beta_1"], beta_2=hparams["beta_2"])
  return {"G": (make(hparams["g_learning_rate"], 1), networks["G"].trainable_variables),
          "D": (make(hparams["d_learning_rate"], hparams["n_critic"]),
                networks["D"].trainable_variables)}


def minibatches_per_step(hparams):
  return hparams["n_critic"]


def _d_input(x, salt, context, hparams):
  if hparams["instance_noise_std"] <= 0:
    return x
  std = gan_stabilizers.instance_noise_std(hparams, context.step)
  return gan_stabilizers.add_instance_noise(x, std, context, salt)


def discriminator_penalties(discriminator_fn, real, fake, salt, context, hparams):
  """(weighted sum of D's penalties or 0.0, {name: penalty before weighting})."""
  penalties, weighted_sum = {}, 0.0
  if hparams["gradient_penalty_weight"] > 0:
    epsilon = context.uniform([real.shape[0]] + [1] * (real.shape.rank - 1), salt=salt)
    penalties["gradient_penalty"] = context.average(losses.gradient_penalty(
        discriminator_fn, real, fake, epsilon))
    weighted_sum += hparams["gradient_penalty_weight"] * penalties["gradient_penalty"]
  if hparams["r1_gamma"] > 0:
    penalties["r1_penalty"] = context.average(losses.r1_penalty(discriminator_fn, real))
    weighted_sum += 0.5 * gan_stabilizers.r1_gamma(hparams, context.step) * penalties["r1_penalty"]
  return weighted_sum, penalties


def update_discriminator(networks, optimizers, real, fake, d_step, context, hparams):
  """D update `d_step`, then WGAN's clipping; returns (loss before penalties, penalties)."""
  D = networks["D"]
  _, discriminator_loss = losses.get_gan_loss(hparams["loss"])
  fake = tf.stop_gradient(fake)
  with tf.GradientTape() as tape:
    real_noise_salt = salts.indexed(salts.GAN_D_REAL_NOISE, d_step, 2)
    fake_noise_salt = salts.indexed(salts.GAN_D_FAKE_NOISE, d_step, 2)
    real_logits = D(_d_input(real, real_noise_salt, context, hparams), training=True)
    fake_logits = D(_d_input(fake, fake_noise_salt, context, hparams), training=True)
    d_loss = context.average(discriminator_loss(real_logits, fake_logits))
    weighted_penalties, penalties = discriminator_penalties(
        lambda x: D(x, training=True), real, fake, salts.indexed(salts.GAN_D_PENALTY, d_step),
        context, hparams)
    total_loss = d_loss + weighted_penalties
  context.minimize(tape, total_loss, D.trainable_variables, optimizers["D"])
  if hparams["clip_value"] > 0:
    gan_stabilizers.clip_weights(D.trainable_variables, hparams["clip_value"], context)
  return d_loss, penalties


def generator_loss(networks, optimizers, real, fake, context, hparams):
  """G's loss on fake = G(z), against D as its update left it or after unroll_steps."""
  generator_loss_fn, discriminator_loss = losses.get_gan_loss(hparams["loss"])
  return gan_unrolled.unrolled_generator_loss(
      networks["D"], optimizers["D"], generator_loss_fn, discriminator_loss, real, fake,
      hparams["unroll_steps"], hparams["unroll_first_order"], context,
      functools.partial(_d_input, context=context, hparams=hparams),
      penalty=lambda discriminator_fn, real, fake, unroll_step: discriminator_penalties(
          discriminator_fn, real, fake, salts.indexed(salts.GAN_UNROLLED_PENALTY, unroll_step),
          context, hparams)[0],
      clip_value=hparams["clip_value"])


def train_step(networks, optimizers, batch, context, hparams):
  """n_critic D updates, then one G update: d_loss (the last D update's, before penalties),
  g_loss, the unweighted penalties and instance_noise_std."""
  G = networks["G"]
  real_minibatches = tf.split(batch["images"] if "images" in batch else batch["points"],
                              hparams["n_critic"])
  latent_shape = [real_minibatches[0].shape[0], hparams["latent_dim"]]
  for d_step, real in enumerate(real_minibatches[:-1]):
    z = context.normal(latent_shape, salt=salts.indexed(salts.GAN_EXTRA_D_Z, d_step))
    update_discriminator(networks, optimizers, real, G(z, training=True), d_step, context, hparams)
  z = context.normal(latent_shape, salt=salts.GAN_Z)
  with tf.GradientTape() as g_tape:
    fake = G(z, training=True)
    # The last D update reuses this G forward pass, as the DCGAN reference does.
    with g_tape.stop_recording():
      d_loss, penalties = update_discriminator(networks, optimizers, real_minibatches[-1], fake,
                                               hparams["n_critic"] - 1, context, hparams)
    g_loss = generator_loss(networks, optimizers, real_minibatches[-1], fake, context, hparams)
  context.minimize(g_tape, g_loss, G.trainable_variables, optimizers["G"])
  if hparams["ema_decay"] > 0:
    gan_stabilizers.update_ema(networks["G_ema"], G,
                               gan_stabilizers.ema_decay(hparams, context.step), context)

  results = {"d_loss": d_loss, "g_loss": g_loss, **penalties}
  if hparams["instance_noise_std"] > 0:
    # Averaged like a loss so that the engine's sum over replicas gives the value itself.
    noise_std = gan_stabilizers.instance_noise_std(hparams, context.step)
    results["instance_noise_std"] = context.average(tf.fill([latent_shape[0]], noise_std))
  return results


def sampling_generator(networks):
  return networks.get("G_ema", networks["G"])


# Generated points per point-cloud summary: 40 draws of the summary batch (64).
SUMMARY_DRAWS = 40


def summaries(networks, batch, context, hparams):
  """Grids "samples" (and G's "samples_G" beside G_ema's), or for points "points": samples
  (blue) over held-out points (red), as in Metz et al. 2017, fig. 2."""
  G = sampling_generator(networks)
  if "points" in batch:
    per_draw = batch["points"].shape[0]
    z = tf.concat([context.normal([per_draw, hparams["latent_dim"]], salt=salts.SUMMARY_Z + draw)
                   for draw in range(SUMMARY_DRAWS)], axis=0)
    return {"points": plots.point_cloud_image(G(z, training=False), batch["points"])}
  z = context.normal([64, hparams["latent_dim"]], salt=salts.SUMMARY_Z)
  images = {"samples": G(z, training=False)}
  if hparams["ema_decay"] > 0:
    images["samples_G"] = networks["G"](z, training=False)
  return images


def features(networks, hparams):
  return (lambda images: networks["D"].features(images, training=False),
          {"dcgan": "the discriminator's last convolutional features, flattened",
           "mlp": "the discriminator's last hidden layer"}[hparams["architecture"]])


def serving(networks, hparams):
  G = sampling_generator(networks)
  return base.GeneratorServing(generate=lambda z: G(z, training=False),
                               latent_dim=hparams["latent_dim"])

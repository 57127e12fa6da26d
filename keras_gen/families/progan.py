"""Progressive GAN (Karras et al. 2018): G and D grow from 4x4 a level at a time, in phases;
the options and the per-level penalty scaling in docs/progan.md."""

import dataclasses
import math

import keras
import tensorflow as tf

from keras_gen import losses
from keras_gen import schedule
from keras_gen.data import tfrecords
from keras_gen.families import base
from keras_gen.families import gan_stabilizers
from keras_gen.families import progan_networks
from keras_gen.families import progan_schedule
from keras_gen.families import salts
from keras_gen.layers import progan as progan_layers

KIND = "generator"

DEFAULT_HPARAMS = {
    "latent_dim": 512,                # Size of z ~ N(0, I), pixel-normalized in G.
    "fmap_base": 8192,                # Feature maps at stage s: min(fmap_base / 2^(s * fmap_decay),
    "fmap_decay": 1.0,                # fmap_max); the paper's 512 up to 64x64, then halving.
    "fmap_max": 512,
    "mbstd_group_size": 4,            # Minibatch stddev group; 0 removes the layer.
    "gradient_penalty_weight": 10.0,  # WGAN-GP lambda.
    "wgan_target": 1.0,               # WGAN-GP gamma at the full resolution (750: CIFAR-10).
    "drift_weight": 0.001,            # eps_drift.
    "loss": "wgan_gp",                # wgan_gp (the paper's) or ns_r1 (non-saturating + lazy R1).
    "r1_gamma": 10.0,                 # ns_r1: R1 gamma at the full resolution (StyleGAN: 10).
    "r1_interval": 16,                # ns_r1: R1 every this many D steps (StyleGAN2: 16).
    "learning_rate": 1e-3,            # Adam alpha for G and D.
    "learning_rate_overrides": {},    # {resolution: learning rate}, e.g. {"1024": 0.0015}.
    "learning_rate_rampup_kimg": 0.0,  # Ramp-up from the run's start (Theano code: 40).
    "beta_1": 0.0,
    "beta_2": 0.99,
    "adam_epsilon": 1e-8,
    "ema_decay": 0.999,               # G_ema beta per G update...
    "ema_kimg": 0.0,                  # ...or, when > 0, G_ema's half-life in thousands of images.
    "reset_optimizers": True,         # Zero Adam's moments at each new phase.
    "start_resolution": 4,            # lod_initial_resolution.
    "training_kimg": 600.0,           # lod_training_kimg: a stable phase.
    "transition_kimg": 600.0,         # lod_transition_kimg: a fade-in phase.
    "total_kimg": 15000.0,            # The whole run.
    "minibatch_default": 16,          # Global minibatch size...
    "minibatch_overrides": {},        # ...except these, {resolution: size}, e.g. {"1024": 3}.
    "mirror_augment": False,          # Random left-right flips of the real images.
}

LOSSES = ("wgan_gp", "ns_r1")
# The lazy R1 penalty's tf.cond: the benchmark tells steps with and without it by this name.
LAZY_R1 = "lazy_r1"

_POSITIVE = ("latent_dim", "fmap_base", "fmap_max", "learning_rate", "total_kimg",
             "minibatch_default", "adam_epsilon", "wgan_target")
_NON_NEGATIVE = ("mbstd_group_size", "gradient_penalty_weight", "drift_weight", "r1_gamma",
                 "ema_kimg", "training_kimg", "transition_kimg", "fmap_decay",
                 "learning_rate_rampup_kimg")


def _per_resolution(hparams, name):
  """{resolution: value} from a recipe dict or a flag string like '256:14;512:6'."""
  value = hparams[name]
  if isinstance(value, str):
    try:
      value = dict(item.split(":") for item in value.split(";") if item)
    except ValueError:
      raise ValueError(f"{name}={hparams[name]!r} is not of the form "
                       f"'RESOLUTION:VALUE;RESOLUTION:VALUE'.") from None
  if not isinstance(value, dict):
    raise ValueError(f"{name}={value!r} must map resolutions to values, e.g. {{\"256\": 14}}.")
  result = {}
  for resolution, entry in value.items():
    resolution = int(resolution)
    if not tfrecords.is_level_resolution(resolution):
      raise ValueError(f"{name} has resolution {resolution}, which is not a power of two >= 4.")
    result[resolution] = entry
  return result


def validate_hparams(hparams):
  base.check_choice(hparams, "loss", LOSSES)
  base.check_values(hparams, ("r1_interval",), lambda value: value < 1, "1 or more")
  base.check_values(hparams, _POSITIVE, lambda value: not value > 0, "positive")
  base.check_values(hparams, _NON_NEGATIVE, lambda value: value < 0, "0 or more")
  base.check_values(hparams, ("ema_decay", "beta_1", "beta_2"),
                    lambda value: not 0.0 <= value < 1.0, "in [0, 1)")
  start = hparams["start_resolution"]
  if not tfrecords.is_level_resolution(start):
    raise ValueError(f"start_resolution={start} is not a power of two >= 4.")
  batch_sizes = [hparams["minibatch_default"]] + [
      int(v) for v in _per_resolution(hparams, "minibatch_overrides").values()]
  group = hparams["mbstd_group_size"]
  for size in batch_sizes:
    if size < 1 or (group and size % min(group, size)):
      raise ValueError(f"Minibatch size {size} must be positive and divisible by "
                       f"mbstd_group_size={group}.")
  for value in _per_resolution(hparams, "learning_rate_overrides").values():
    if not 0 < float(value) < math.inf:
      raise ValueError(f"learning_rate_overrides holds {value}; learning rates must be positive "
                       f"and finite.")


def phases(hparams, element_shape):
  """[stable(start)] + [transition(L), stable(L)] per level, cut or stretched to total_kimg."""
  resolution = element_shape[0]
  start_level, top_level = int(math.log2(hparams["start_resolution"])), int(math.log2(resolution))
  if start_level > top_level:
    raise ValueError(f"start_resolution={hparams['start_resolution']} is above the data's "
                     f"{resolution}x{resolution}.")
  batch_overrides = _per_resolution(hparams, "minibatch_overrides")
  rate_overrides = _per_resolution(hparams, "learning_rate_overrides")

  def phase(level, kimg, transition):
    size = 2 ** level
    rate = float(rate_overrides.get(size, hparams["learning_rate"]))
    return schedule.Phase(level=level, kimg=kimg, transition=transition,
                          batch_size=int(batch_overrides.get(size, hparams["minibatch_default"])),
                          learning_rates={"G": rate, "D": rate},
                          reset_optimizers=hparams["reset_optimizers"],
                          learning_rate_rampup_kimg=hparams["learning_rate_rampup_kimg"])

  planned = [phase(start_level, hparams["training_kimg"], False)]
  for level in range(start_level + 1, top_level + 1):
    planned += [phase(level, hparams["transition_kimg"], True),
                phase(level, hparams["training_kimg"], False)]
  planned = [p for p in planned if p.kimg > 0] or planned[-1:]
  result, shown = [], 0.0
  for p in planned:
    kimg = min(p.kimg, hparams["total_kimg"] - shown)
    if kimg <= 0:
      break
    result.append(dataclasses.replace(p, kimg=kimg))
    shown += kimg
  if shown < hparams["total_kimg"]:
    result[-1] = dataclasses.replace(result[-1],
                                     kimg=result[-1].kimg + hparams["total_kimg"] - shown)
  return result


def _generator(hparams, element_shape, name):
  resolution, _, channels = element_shape
  return progan_networks.Generator(
      resolution, channels, latent_dim=hparams["latent_dim"], fmap_base=hparams["fmap_base"],
      fmap_decay=hparams["fmap_decay"], fmap_max=hparams["fmap_max"], name=name)


def build(hparams, element_shape):
  """{"G", "D", "G_ema"}: every level's weights, G_ema starting equal to G."""
  resolution = element_shape[0]
  if element_shape[0] != element_shape[1] or not tfrecords.is_level_resolution(resolution):
    raise ValueError(f"Progressive GAN needs square power-of-two images of at least 4x4, "
                     f"got {tuple(element_shape)}.")
  G = _generator(hparams, element_shape, "G")
  D = progan_networks.Discriminator(
      resolution, fmap_base=hparams["fmap_base"], fmap_decay=hparams["fmap_decay"],
      fmap_max=hparams["fmap_max"], mbstd_group_size=hparams["mbstd_group_size"], name="D")
  progan_networks.build_all_levels(G, D)
  G_ema = _generator(hparams, element_shape, "G_ema")
  progan_networks.build_all_levels(G_ema, D)
  gan_stabilizers.copy_weights(G_ema, G)
  return {"G": G, "D": D, "G_ema": G_ema}


def optimizers(hparams, networks):
  return {name: (keras.optimizers.Adam(hparams["learning_rate"], beta_1=hparams["beta_1"],
                                       beta_2=hparams["beta_2"], epsilon=hparams["adam_epsilon"]),
                 networks[name].trainable_variables) for name in ("G", "D")}


def level_of(images):
  """log2 of the side of [N, R, R, C] images."""
  return int(math.log2(images.shape[1]))


def crossfade_reals(images, alpha):
  """[N, R, R, C] reals as G renders them mid-fade: lerp(upsample(downsample(x)), x, alpha)."""
  if level_of(images) == progan_networks.MIN_LEVEL:
    return images
  coarse = progan_layers.upsample(progan_layers.downsample(images))
  return progan_networks.lerp(coarse, images, alpha)


def mirror(images, coins):
  """images [N, H, W, C] flipped left-right where coins (U[0, 1), [N, 1, 1, 1]) are >= 0.5."""
  return tf.where(coins < 0.5, images, tf.reverse(images, axis=[2]))


def penalty_target(hparams, level, top_level):
  """wgan_target * 2^(top_level - level): the paper's target at the full resolution, at the
  level's size (docs/progan.md, docs/progan_drift.md)."""
  return hparams["wgan_target"] * 2.0 ** (top_level - level)


def ema_beta(hparams, global_batch_size):
  """ema_decay, or with ema_kimg > 0, 0.5^(global_batch_size / (1000 ema_kimg)) (StyleGAN)."""
  if hparams["ema_kimg"] > 0:
    return 0.5 ** (global_batch_size / (1000.0 * hparams["ema_kimg"]))
  return hparams["ema_decay"]


def lazy_r1(hparams, step, penalty):
  """penalty() on every r1_interval-th step from 0, else 0: a Python choice if the step is known
  while tracing, else a tf.cond named LAZY_R1."""
  known = tf.get_static_value(step)
  if known is not None:
    return penalty() if known % hparams["r1_interval"] == 0 else tf.zeros([])
  applies = tf.equal(tf.math.floormod(step, tf.cast(hparams["r1_interval"], step.dtype)), 0)
  return tf.cond(applies, penalty, lambda: tf.zeros([]), name=LAZY_R1)


def r1_weight(hparams, level, top_level):
  """r1_gamma / 2 * r1_interval / 4^(top_level - level): lazy R1's weight at the level's size."""
  return 0.5 * hparams["r1_gamma"] * hparams["r1_interval"] / 4.0 ** (top_level - level)


def wgan_gp_critic_loss(critic, real, fake, context, hparams, level, top_level):
  """(d_loss, its regularized total, {penalty terms before weighting}) of WGAN-GP."""
  real_scores, fake_scores = critic(real), critic(fake)
  d_loss = context.average(losses.wasserstein_discriminator_loss(real_scores, fake_scores))
  epsilon = context.uniform([real.shape[0], 1, 1, 1], salt=salts.PROGAN_PENALTY)
  penalty = context.average(losses.gradient_penalty(
      critic, real, fake, epsilon, target=penalty_target(hparams, level, top_level)))
  drift = context.average(losses.drift_penalty(real_scores))
  total = (d_loss + hparams["gradient_penalty_weight"] * penalty +
           hparams["drift_weight"] * drift)
  return d_loss, total, {"gradient_penalty": penalty, "drift": drift}


def ns_r1_critic_loss(critic, real, fake, context, hparams, level, top_level):
  """(d_loss, its regularized total, {"r1_penalty"}) of the logistic loss with lazy R1."""
  d_loss = context.average(losses.non_saturating_discriminator_loss(critic(real), critic(fake)))
  penalty = lazy_r1(hparams, context.step,
                    lambda: context.average(losses.r1_penalty(critic, real)))
  return d_loss, d_loss + r1_weight(hparams, level, top_level) * penalty, {"r1_penalty": penalty}


_CRITIC_LOSSES = {"wgan_gp": wgan_gp_critic_loss, "ns_r1": ns_r1_critic_loss}
_GENERATOR_LOSSES = {"wgan_gp": losses.wasserstein_generator_loss,
                     "ns_r1": losses.non_saturating_generator_loss}


def train_step(networks, optimizers, batch, context, hparams):
  """One D update, then one G update, at the batch's level and the current alpha; returns
  d_loss, g_loss and the unweighted penalties (r1_penalty is 0 on steps that skip it)."""
  G, D, G_ema = networks["G"], networks["D"], networks["G_ema"]
  alpha = tf.convert_to_tensor(context.family_state.alpha)
  real = batch["images"]
  level = level_of(real)
  per_replica_batch = real.shape[0]
  if hparams["mirror_augment"]:
    real = mirror(real, context.uniform([per_replica_batch, 1, 1, 1], salt=salts.PROGAN_MIRROR))
  real = crossfade_reals(real, alpha)

  def critic(images):
    return D(images, level=level, alpha=alpha, training=True)

  z = context.normal([per_replica_batch, hparams["latent_dim"]], salt=salts.PROGAN_D_Z)
  fake = tf.stop_gradient(G(z, level=level, alpha=alpha, training=True))
  with tf.GradientTape() as d_tape:
    d_loss, total, penalties = _CRITIC_LOSSES[hparams["loss"]](
        critic, real, fake, context, hparams, level, D.max_level)
  # Only the weights this level uses: the others have no gradient yet.
  context.minimize(d_tape, total, D.variables_at(level), optimizers["D"])

  z = context.normal([per_replica_batch, hparams["latent_dim"]], salt=salts.PROGAN_G_Z)
  with tf.GradientTape() as g_tape:
    g_loss = context.average(_GENERATOR_LOSSES[hparams["loss"]](
        critic(G(z, level=level, alpha=alpha, training=True))))
  context.minimize(g_tape, g_loss, G.variables_at(level), optimizers["G"])
  gan_stabilizers.update_ema(G_ema, G, ema_beta(hparams, context.global_batch_size), context)
  return {"d_loss": d_loss, "g_loss": g_loss, **penalties}


def summaries(networks, batch, context, hparams):
  G, G_ema = networks["G"], networks["G_ema"]
  alpha = tf.convert_to_tensor(context.family_state.alpha)
  level = level_of(batch["images"])
  z = context.normal([batch["images"].shape[0], hparams["latent_dim"]], salt=salts.SUMMARY_Z)
  images = {"samples": G_ema(z, level=level, alpha=alpha),
            "samples_G": G(z, level=level, alpha=alpha),
            "reals": crossfade_reals(batch["images"], alpha)}
  return {name: progan_layers.upsample(value, 2 ** (G.max_level - level))
          for name, value in images.items()}


make_state = schedule.PhaseState
config_at = schedule.config_at_level


def make_schedule(config, replicas):
  return progan_schedule.PhasedSchedule(config, phases, replicas)


def resolutions(hparams, element_shape):
  return [(2 ** phase.level, phase.batch_size) for phase in phases(hparams, element_shape)]


def serving(networks, hparams, phase):
  """G_ema at the level and alpha the run reached (read when the export is made)."""
  G_ema = networks["G_ema"]
  level = int(phase.level.numpy()) or G_ema.max_level
  return base.GeneratorServing(
      generate=lambda z: G_ema(z, level=level, alpha=tf.convert_to_tensor(phase.alpha)),
      latent_dim=hparams["latent_dim"])


def features(networks, hparams, phase):
  """D's b4 features at the images' level and the run's alpha."""
  del hparams
  D = networks["D"]
  group = D.mbstd.group_size if D.mbstd is not None else 1

  def b4_features(images):
    # Minibatch stddev needs whole groups: the last N mod group images form their own.
    whole = images.shape[0] // group * group
    parts = [part for part in (images[:whole], images[whole:]) if part.shape[0]]
    return tf.concat([D.features(part, level=level_of(part), alpha=tf.convert_to_tensor(
        phase.alpha)) for part in parts], axis=0)

  return b4_features, "the discriminator's b4 convolutional features at the run's level, flattened"

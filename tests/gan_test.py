"""Tests for keras_gen.families.gan: real steps of every GAN variant on tiny networks."""

import re

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import losses
from keras_gen import registry
from keras_gen.engine import loop
from keras_gen.engine import step_context
from keras_gen.families import gan
from keras_gen.families import gan_stabilizers
from keras_gen.families import gan_unrolled
from keras_gen.families import salts

TINY_MLP = {"latent_dim": 4, "g_units": 16, "d_units": 16}
TINY_CONV = {"latent_dim": 4, "g_filters": 4, "d_filters": 4}


def make_state(model, element_shape, **overrides):
  """(networks, built optimizers, hparams) for a registered GAN model name."""
  family, presets = registry.get_family(model)
  presets.update(overrides)
  hparams = config_lib.resolve_hparams(model, family.DEFAULT_HPARAMS, presets)
  family.validate_hparams(hparams)
  tf.keras.utils.set_random_seed(0)
  networks = family.build(hparams, element_shape)
  optimizers = {}
  for name, (optimizer, variables) in family.optimizers(hparams, networks).items():
    optimizer.build(variables)
    optimizers[name] = optimizer
  return networks, optimizers, hparams


def context_at(step, batch_size):
  return step_context.StepContext(step=tf.constant(step, tf.int64), seed=0,
                                  global_batch_size=batch_size)


def image_batch(count, size=8, seed=0):
  rng = np.random.default_rng(seed)
  return {"images": tf.constant(rng.uniform(-1, 1, (count, size, size, 1)), tf.float32)}


def point_batch(count, seed=0):
  rng = np.random.default_rng(seed)
  return {"points": tf.constant(rng.normal(size=(count, 2)), tf.float32)}


def values(variables):
  return [v.numpy() for v in variables]


def test_wgan_step_keeps_every_critic_weight_within_the_clip_value():
  networks, optimizers, hparams = make_state("wgan", (8, 8, 1), n_critic=2, **TINY_CONV)
  for variable in networks["D"].trainable_variables:
    variable.assign(tf.ones_like(variable))  # Far outside the clip range.
  gan.train_step(networks, optimizers, image_batch(16), context_at(0, 8), hparams)
  weights = np.concatenate([w.ravel() for w in values(networks["D"].trainable_variables)])
  assert np.abs(weights).max() <= hparams["clip_value"] + 1e-9
  assert np.isclose(np.abs(weights).max(), 0.01)


def test_wgan_gp_step_minimizes_the_wasserstein_loss_plus_ten_times_the_penalty():
  networks, optimizers, hparams = make_state("wgan_gp", (8, 8, 1), n_critic=1, d_norm="none",
                                             **TINY_CONV)
  G, D = networks["G"], networks["D"]
  batch, context = image_batch(8), context_at(3, 8)
  # What the step draws: z and the interpolation weights of its only D update.
  fake = G(context.normal([8, 4], salt=salts.GAN_Z), training=True)
  real = batch["images"]
  epsilon = context.uniform([8, 1, 1, 1], salt=salts.GAN_D_PENALTY)
  with tf.GradientTape() as tape:
    wasserstein = tf.reduce_mean(D(fake) - D(real))
    penalty = tf.reduce_mean(losses.gradient_penalty(D, real, fake, epsilon))
    total = wasserstein + 10.0 * penalty
  gradients = tape.gradient(total, D.trainable_variables)
  before = values(D.trainable_variables)

  result = gan.train_step(networks, optimizers, batch, context, hparams)

  np.testing.assert_allclose(result["d_loss"], wasserstein, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(result["gradient_penalty"], penalty, rtol=1e-5, atol=1e-6)
  # Adam's first step moves w by -lr (1 - b1) g alpha / (sqrt((1 - b2) g^2) + eps).
  alpha = 1e-4 * np.sqrt(1 - 0.9) / (1 - 0.5)
  for old, new, g in zip(before, values(D.trainable_variables), gradients):
    g = np.array(g)
    expected = old - (1 - 0.5) * g * alpha / (np.sqrt((1 - 0.9) * g * g) + 1e-7)
    np.testing.assert_allclose(new, expected, rtol=1e-4, atol=1e-8)


# At step 3, gamma 8 annealed to 0 over 6 steps is gamma 4.
@pytest.mark.parametrize("r1_hparams", [{"r1_gamma": 4.0},
                                        {"r1_gamma": 8.0, "r1_gamma_anneal_steps": 6}])
def test_r1_step_minimizes_the_discriminator_loss_plus_half_gamma_times_r1(r1_hparams):
  networks, optimizers, hparams = make_state("gan", (2,), **r1_hparams, **TINY_MLP)
  G, D = networks["G"], networks["D"]
  batch, context = point_batch(8), context_at(3, 8)
  fake = G(context.normal([8, 4], salt=salts.GAN_Z), training=True)
  real = batch["points"]
  # R1 by hand: the squared norm of the input gradient of D at each real point.
  with tf.GradientTape() as tape:
    with tf.GradientTape() as input_tape:
      input_tape.watch(real)
      real_logits = D(real)
      logit_sum = tf.reduce_sum(real_logits)
    input_gradients = input_tape.gradient(logit_sum, real)
    r1 = tf.reduce_mean(tf.reduce_sum(tf.square(input_gradients), axis=1))
    adversarial = tf.reduce_mean(losses.non_saturating_discriminator_loss(real_logits, D(fake)))
    total = adversarial + 0.5 * 4.0 * r1
  gradients = tape.gradient(total, D.trainable_variables)
  before = values(D.trainable_variables)

  result = gan.train_step(networks, optimizers, batch, context, hparams)

  np.testing.assert_allclose(result["d_loss"], adversarial, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(result["r1_penalty"], r1, rtol=1e-5, atol=1e-7)
  alpha = hparams["d_learning_rate"] * np.sqrt(1 - 0.999) / (1 - 0.5)
  for old, new, g in zip(before, values(D.trainable_variables), gradients):
    g = np.array(g)
    expected = old - (1 - 0.5) * g * alpha / (np.sqrt((1 - 0.999) * g * g) + 1e-7)
    np.testing.assert_allclose(new, expected, rtol=1e-4, atol=1e-8)


def test_gradient_penalty_norm_matches_finite_differences_on_the_critic():
  networks, _, _ = make_state("wgan_gp", (8, 8, 1), d_norm="layer", **TINY_CONV)
  D = networks["D"]
  rng = np.random.default_rng(1)
  x = tf.constant(rng.uniform(-1, 1, (2, 8, 8, 1)), tf.float64)
  penalty = losses.gradient_penalty(lambda v: D(tf.cast(v, tf.float32)), x, x,
                                    tf.ones([2, 1, 1, 1], tf.float64)).numpy()
  step = 1e-3
  norms = []
  for example in range(2):
    base_image = x[example].numpy()
    directions = np.eye(64).reshape(64, 8, 8, 1)
    plus = D(tf.constant(base_image + step * directions, tf.float32)).numpy().astype(np.float64)
    minus = D(tf.constant(base_image - step * directions, tf.float32)).numpy().astype(np.float64)
    norms.append(np.linalg.norm((plus - minus) / (2 * step)))
  np.testing.assert_allclose(penalty, (np.array(norms) - 1.0) ** 2, rtol=2e-2, atol=1e-4)


@pytest.mark.parametrize("schedule, value_name, steps_name", [
    (gan_stabilizers.instance_noise_std, "instance_noise_std", "instance_noise_anneal_steps"),
    (gan_stabilizers.r1_gamma, "r1_gamma", "r1_gamma_anneal_steps"),
])
def test_annealed_value_falls_linearly_to_zero_and_stays_there_or_is_constant(
    schedule, value_name, steps_name):
  annealed = {value_name: 0.2, steps_name: 100}
  values_at = [float(schedule(annealed, tf.constant(step, tf.int64)))
               for step in (0, 25, 100, 150)]
  np.testing.assert_allclose(values_at, [0.2, 0.15, 0.0, 0.0], atol=1e-7)
  constant = {value_name: 0.3, steps_name: 0}
  assert float(schedule(constant, tf.constant(10**6, tf.int64))) == pytest.approx(0.3)


def test_instance_noise_has_the_scheduled_std_and_the_step_reports_it():
  noise = gan_stabilizers.add_instance_noise(tf.zeros([4096, 2]), 0.25, context_at(0, 4096), 7)
  assert float(tf.math.reduce_std(noise)) == pytest.approx(0.25, rel=0.03)
  networks, optimizers, hparams = make_state(
      "gan", (2,), instance_noise_std=0.4, instance_noise_anneal_steps=10, **TINY_MLP)
  result = gan.train_step(networks, optimizers, point_batch(8), context_at(5, 8), hparams)
  assert float(result["instance_noise_std"]) == pytest.approx(0.2)


def test_ema_warmup_follows_the_num_updates_rule_up_to_ema_decay():
  hparams = {"ema_decay": 0.999, "ema_warmup": True}
  decays = [float(gan_stabilizers.ema_decay(hparams, tf.constant(step, tf.int64)))
            for step in (0, 90, 990, 8990, 20000)]
  np.testing.assert_allclose(decays, [0.1, 0.91, 0.991, 0.999, 0.999], rtol=1e-6)
  assert float(gan_stabilizers.ema_decay(dict(hparams, ema_warmup=False),
                                         tf.constant(0, tf.int64))) == pytest.approx(0.999)


def test_g_ema_with_warmup_averages_with_the_step_decay():
  networks, optimizers, hparams = make_state("gan", (2,), ema_decay=0.9, ema_warmup=True,
                                             **TINY_MLP)
  before = values(networks["G_ema"].trainable_variables)
  gan.train_step(networks, optimizers, point_batch(8), context_at(2, 8), hparams)
  after_g = values(networks["G"].trainable_variables)
  decay = 3.0 / 12.0  # (1 + 2) / (10 + 2) < 0.9 at step 2.
  for ema, old, new in zip(values(networks["G_ema"].trainable_variables), before, after_g):
    np.testing.assert_allclose(ema, decay * old + (1 - decay) * new, rtol=1e-6, atol=1e-7)


def test_g_ema_equals_the_hand_computed_moving_average_after_two_steps():
  networks, optimizers, hparams = make_state("gan", (2,), ema_decay=0.75, **TINY_MLP)
  snapshots = [values(networks["G"].trainable_variables)]
  np.testing.assert_array_equal(np.concatenate([w.ravel() for w in snapshots[0]]),
                                np.concatenate([w.ravel() for w in
                                                values(networks["G_ema"].trainable_variables)]))
  for step in range(2):
    gan.train_step(networks, optimizers, point_batch(8, seed=step), context_at(step, 8), hparams)
    snapshots.append(values(networks["G"].trainable_variables))
  for index, ema in enumerate(values(networks["G_ema"].trainable_variables)):
    expected = snapshots[0][index]
    for snapshot in snapshots[1:]:
      expected = 0.75 * expected + 0.25 * snapshot[index]
    np.testing.assert_allclose(ema, expected, rtol=1e-6, atol=1e-7)
  assert not np.allclose(snapshots[2][0], snapshots[0][0])


def test_learning_rates_decay_linearly_to_zero_over_the_decay_steps_in_g_steps():
  networks, optimizers, hparams = make_state(
      "wgan", (8, 8, 1), n_critic=2, learning_rate_decay_steps=4, **TINY_CONV)
  initial = hparams["g_learning_rate"]
  for step in range(2):
    gan.train_step(networks, optimizers, image_batch(16, seed=step), context_at(step, 8), hparams)
  # After 2 of 4 G steps (and 4 of D's 8 updates) both rates are at half.
  for name in ("G", "D"):
    assert float(optimizers[name].learning_rate) == pytest.approx(initial / 2, rel=1e-6)
  for step in range(2, 5):
    gan.train_step(networks, optimizers, image_batch(16, seed=step), context_at(step, 8), hparams)
  assert float(optimizers["G"].learning_rate) == 0.0


def test_learning_rates_hold_until_the_decay_start_then_fall_linearly_to_zero():
  networks, optimizers, hparams = make_state(
      "wgan", (8, 8, 1), n_critic=2, learning_rate_decay_start=2, learning_rate_decay_steps=6,
      **TINY_CONV)
  initial = hparams["g_learning_rate"]
  # The fraction of the rate left after 1, 2, ... G steps (D's 2, 4, ... updates alike).
  for step, fraction in enumerate([1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]):
    gan.train_step(networks, optimizers, image_batch(16, seed=step), context_at(step, 8), hparams)
    for name in ("G", "D"):
      assert float(optimizers[name].learning_rate) == pytest.approx(initial * fraction, rel=1e-6, abs=1e-12)


def test_a_decay_start_past_the_decay_end_is_refused():
  with pytest.raises(ValueError, match="learning_rate_decay_start must be below"):
    gan.validate_hparams(dict(gan.DEFAULT_HPARAMS, learning_rate_decay_start=5,
                              learning_rate_decay_steps=5))


def _generator_gradients(networks, optimizers, hparams, batch, unroll_steps, first_order=False):
  generator_loss, discriminator_loss = losses.get_gan_loss(hparams["loss"])
  context = context_at(0, 8)
  z = context.normal([8, hparams["latent_dim"]], salt=salts.GAN_Z)
  with tf.GradientTape() as tape:
    fake = networks["G"](z, training=True)
    loss = gan_unrolled.unrolled_generator_loss(
        networks["D"], optimizers["D"], generator_loss, discriminator_loss, batch["points"],
        fake, unroll_steps, first_order, context)
  return [g.numpy() for g in tape.gradient(loss, networks["G"].trainable_variables)]


def _plain_generator_gradients(networks, hparams, unused_batch):
  context = context_at(0, 8)
  z = context.normal([8, hparams["latent_dim"]], salt=salts.GAN_Z)
  with tf.GradientTape() as tape:
    loss = context.average(losses.non_saturating_generator_loss(
        networks["D"](networks["G"](z, training=True), training=True)))
  return [g.numpy() for g in tape.gradient(loss, networks["G"].trainable_variables)]


def _max_difference(left, right):
  return max(float(np.abs(a - b).max()) for a, b in zip(left, right))


def _unrolled_state(**overrides):
  networks, optimizers, hparams = make_state("unrolled_gan", (2,), d_learning_rate=0.05,
                                             **TINY_MLP, **overrides)
  batch = point_batch(8)
  # One real step gives D's Adam non-zero moments for the simulation to start from.
  gan.train_step(networks, optimizers, batch, context_at(0, 8), hparams)
  return networks, optimizers, hparams, batch


def test_unrolled_generator_gradient_with_zero_steps_equals_the_plain_gradient():
  networks, optimizers, hparams, batch = _unrolled_state()
  plain = _plain_generator_gradients(networks, hparams, batch)
  unrolled = _generator_gradients(networks, optimizers, hparams, batch, unroll_steps=0)
  assert _max_difference(plain, unrolled) < 1e-7


def test_unrolled_generator_gradient_with_three_steps_differs_from_the_plain_gradient():
  networks, optimizers, hparams, batch = _unrolled_state()
  plain = _generator_gradients(networks, optimizers, hparams, batch, unroll_steps=0)
  unrolled = _generator_gradients(networks, optimizers, hparams, batch, unroll_steps=3)
  first_order = _generator_gradients(networks, optimizers, hparams, batch, unroll_steps=3,
                                     first_order=True)
  scale = max(float(np.abs(g).max()) for g in plain)
  assert _max_difference(plain, unrolled) > 1e-2 * scale
  # The second-order term (how D's response depends on G) is what unrolling adds.
  assert _max_difference(unrolled, first_order) > 1e-3 * scale


def test_first_order_unrolled_gradient_equals_the_plain_gradient_against_the_unrolled_d():
  networks, optimizers, hparams, batch = _unrolled_state()
  first_order = _generator_gradients(networks, optimizers, hparams, batch, unroll_steps=3,
                                     first_order=True)
  context = context_at(0, 8)
  fake = networks["G"](context.normal([8, 4], salt=salts.GAN_Z), training=True)
  weights, _ = gan_unrolled.unrolled_discriminator_weights(
      networks["D"], optimizers["D"], losses.non_saturating_discriminator_loss,
      batch["points"], fake, 3, context)
  for variable, weight in zip(networks["D"].trainable_variables, weights):
    variable.assign(weight)
  plain = _plain_generator_gradients(networks, hparams, batch)
  assert _max_difference(plain, first_order) < 1e-6


# With a decaying learning rate the simulation must use the rate of D's current update,
# with an R1 penalty it must add the penalty the real update adds, and with weight
# clipping it must clip as the real update does.
@pytest.mark.parametrize("decay_steps, r1_gamma, clip_value",
                         [(0, 0.0, 0.0), (3, 0.0, 0.0), (0, 0.5, 0.0), (0, 0.0, 0.05)])
def test_one_simulated_unrolled_step_equals_one_real_adam_step_of_d(decay_steps, r1_gamma,
                                                                     clip_value):
  networks, optimizers, hparams, batch = _unrolled_state(learning_rate_decay_steps=decay_steps)
  D, context = networks["D"], context_at(0, 8)
  fake = networks["G"](context.normal([8, 4], salt=salts.GAN_Z))

  def r1(discriminator_fn, real, fake, unroll_step):
    del fake, unroll_step  # R1 only looks at real data.
    return 0.5 * r1_gamma * context.average(losses.r1_penalty(discriminator_fn, real))

  weights, _ = gan_unrolled.unrolled_discriminator_weights(
      D, optimizers["D"], losses.non_saturating_discriminator_loss, batch["points"], fake, 1,
      context, penalty=r1 if r1_gamma else None, clip_value=clip_value)
  with tf.GradientTape() as tape:
    loss = context.average(losses.non_saturating_discriminator_loss(D(batch["points"]), D(fake)))
    if r1_gamma:
      loss += r1(D, batch["points"], fake, 0)
      assert float(r1(D, batch["points"], fake, 0)) > 1e-4  # The penalty is not negligible.
  optimizers["D"].apply_gradients(zip(tape.gradient(loss, D.trainable_variables),
                                      D.trainable_variables))
  if clip_value:
    gan_stabilizers.clip_weights(D.trainable_variables, clip_value, context)
    clipped = np.concatenate([np.abs(w).ravel() for w in values(D.trainable_variables)])
    assert np.mean(clipped == np.float32(clip_value)) > 0.1  # Clipping binds on many weights.
  for simulated, real in zip(weights, values(D.trainable_variables)):
    np.testing.assert_allclose(simulated, real, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("hparams, message", [
    ({"loss": "kl"}, "Unknown GAN loss"),
    ({"n_critic": 0}, "n_critic must be at least 1"),
    ({"ema_decay": 1.0}, "ema_decay must be in [0, 1)"),
    ({"d_norm": "batch", "gradient_penalty_weight": 10.0}, "d_norm"),
    ({"d_norm": "batch", "r1_gamma": 1.0}, "r1_gamma > 0 needs a critic"),
    ({"optimizer": "sgd"}, "optimizer='sgd' is not one of"),
    ({"g_norm": "layer"}, "g_norm='layer' is not one of"),
    ({"optimizer": "rmsprop", "unroll_steps": 2}, "optimizer must be 'adam'"),
])
def test_validate_hparams_names_the_bad_hyperparameter(hparams, message):
  resolved = dict(gan.DEFAULT_HPARAMS, **hparams)
  with pytest.raises(ValueError, match=re.escape(message)):
    gan.validate_hparams(resolved)


def test_dcgan_on_points_is_refused_with_one_sentence(tmp_path):
  config = config_lib.TrainConfig(model="dcgan", dataset="ring8", model_dir=str(tmp_path / "r"),
                                  train_steps=1, batch_size=8, hparams=dict(TINY_CONV))
  with pytest.raises(config_lib.ConfigError, match="use architecture='mlp' for points"):
    loop.run(config)


SMOKE_RUNS = [
    ("gan", "ring8", dict(TINY_MLP, ema_decay=0.9, instance_noise_std=0.1,
                          instance_noise_anneal_steps=4)),
    ("gan", "npz", dict(TINY_MLP, loss="minimax", n_critic=2)),
    ("unrolled_gan", "ring8", dict(TINY_MLP, unroll_steps=2, r1_gamma=0.1,
                                   learning_rate_decay_steps=4, g_norm="batch")),
    ("dcgan", "npz", dict(TINY_CONV)),
    ("wgan", "npz", dict(TINY_CONV, n_critic=2)),
    ("wgan_gp", "npz", dict(TINY_CONV, n_critic=2, ema_decay=0.5)),
]


@pytest.mark.parametrize("model, dataset, hparams", SMOKE_RUNS,
                         ids=[f"{m}-{d}" for m, d, _ in SMOKE_RUNS])
def test_two_training_steps_export_a_loadable_generator(model, dataset, hparams, tiny_npz,
                                                        tmp_path):
  config = config_lib.TrainConfig(
      model=model, dataset=f"npz:{tiny_npz}" if dataset == "npz" else dataset,
      model_dir=str(tmp_path / model), train_steps=2, batch_size=8, summary_every=1,
      log_every=1, checkpoint_every=1, hparams=hparams)
  result = loop.run(config)
  assert {"d_loss", "g_loss"} <= set(result.losses)
  assert all(np.isfinite(value) for value in result.losses.values())
  exported = tf.saved_model.load(result.export_path)
  outputs = exported.signatures["serving_default"](z=tf.zeros([3, 4]))
  sampled = exported.signatures["sample"](num=tf.constant(5), seed=tf.constant(1, tf.int64))
  if dataset == "ring8":
    assert outputs["samples"].dtype == tf.float32 and outputs["samples"].shape == (3, 2)
    assert sampled["samples"].shape == (5, 2)
  else:
    assert outputs["images"].dtype == tf.uint8 and outputs["images"].shape == (3, 16, 16, 1)
    assert sampled["images"].shape == (5, 16, 16, 1)

"""The Progressive GAN family: growing networks, fade-in, one step per stage, the schedule."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import schedule
from keras_gen.engine import step_context
from keras_gen.families import progan
from keras_gen.families import progan_networks
from keras_gen.families import salts
from keras_gen.layers import progan as progan_layers

# 8 feature maps everywhere, a 4x4 start, 16x16 at the top.
TINY = dict(progan.DEFAULT_HPARAMS, latent_dim=8, fmap_base=64, fmap_max=8, mbstd_group_size=2)


def _tiny_state(resolution=16, hparams=TINY, channels=1):
  networks = progan.build(hparams, (resolution, resolution, channels))
  optimizers = {}
  for name, (optimizer, variables) in progan.optimizers(hparams, networks).items():
    optimizer.build(variables)
    optimizers[name] = optimizer
  return networks, optimizers


def _context(batch_size, step=0, phase=None):
  """A step's context; the phase state's alpha is 1 unless `phase` says otherwise."""
  return step_context.StepContext(step=tf.constant(step, tf.int64), seed=0,
                                  global_batch_size=batch_size,
                                  family_state=phase or schedule.PhaseState())


def test_every_stage_runs_forward_and_one_train_step_with_finite_losses():
  networks, optimizers = _tiny_state()
  phase = schedule.PhaseState()
  z = tf.random.stateless_normal([4, 8], seed=[0, 0])
  for level in (2, 3, 4):
    for alpha in (0.5, 1.0):
      phase.alpha.assign(alpha)
      images = networks["G"](z, level=level, alpha=alpha)
      assert images.shape == (4, 2 ** level, 2 ** level, 1)
      assert networks["D"](images, level=level, alpha=alpha).shape == (4, 1)
      weights = [v.numpy() for v in networks["G"].variables_at(level)]
      batch = {"images": tf.random.stateless_uniform([4, 2 ** level, 2 ** level, 1], [1, level],
                                                     minval=-1.0, maxval=1.0)}
      losses = progan.train_step(networks, optimizers, batch, _context(4, phase=phase), TINY)
      assert set(losses) == {"d_loss", "g_loss", "gradient_penalty", "drift"}
      assert all(np.isfinite(float(value)) for value in losses.values())
      changed = [not np.array_equal(w, v.numpy())
                 for w, v in zip(weights, networks["G"].variables_at(level))]
      # At alpha = 1 the old toRGB has a zero gradient, so Adam leaves it.
      assert all(changed) if alpha < 1 or level == 2 else sum(changed) == len(changed) - 2


def test_every_layer_scales_its_weights_by_the_paper_codes_gain_over_sqrt_fan_in():
  # networks.py: get_weight's wscale = gain / sqrt(fan_in), gain sqrt(2) but for G's 4x4
  # dense (sqrt(2) / 4), toRGB and D's last dense layer (1). TINY: 8 maps, latent 8, 1 channel.
  networks, _ = _tiny_state(16)
  G, D = networks["G"], networks["D"]
  he = np.sqrt(2.0)
  expected = {
      G.b4_dense: he / 4 / np.sqrt(8), G.b4_conv: he / np.sqrt(9 * 8),
      G.blocks["b16"][0]: he / np.sqrt(9 * 8), G.to_rgb["b16"]: 1 / np.sqrt(8),
      D.from_rgb["b16"]: he / np.sqrt(1), D.blocks["b16"][1]: he / np.sqrt(9 * 8),
      D.b4_conv: he / np.sqrt(9 * (8 + 1)),  # The minibatch stddev map is one more input.
      D.b4_dense: he / np.sqrt(16 * 8), D.b4_score: 1 / np.sqrt(8)}
  for layer, scale in expected.items():
    assert layer.scale == pytest.approx(scale, rel=1e-12), layer.name


def test_building_creates_every_levels_weights_without_a_keras_build_warning():
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # Keras' "`build()` was called ... unbuilt state" among them.
    networks, _ = _tiny_state()
  for name in ("G", "D"):
    layers = networks[name]._flatten_layers(include_self=False)  # pylint: disable=protected-access
    unbuilt = [layer.name for layer in layers if not layer.built]
    assert not unbuilt, (name, unbuilt)
  # A toRGB for each of 4x4, 8x8 and 16x16.
  assert len(networks["G"].to_rgb) == 3


def _old_and_new_paths(G, D, z, level):
  """G's and D's level-(L-1) networks (resampled to level L) and level-L networks, by hand."""
  x = z
  for current in range(2, level):
    x = G._block(x, current)  # pylint: disable=protected-access
  old_rgb = progan_layers.upsample(G.to_rgb[f"b{2 ** (level - 1)}"](x))
  new_rgb = G.to_rgb[f"b{2 ** level}"](G._block(x, level))  # pylint: disable=protected-access
  return old_rgb, new_rgb


def test_fade_in_at_alpha_0_is_the_old_path_and_at_alpha_1_the_new_one():
  networks, _ = _tiny_state()
  G, D = networks["G"], networks["D"]
  z = tf.random.stateless_normal([4, 8], seed=[0, 5])
  old_rgb, new_rgb = _old_and_new_paths(G, D, z, 4)
  assert np.abs(old_rgb - new_rgb).max() > 1e-3  # The two paths really differ.
  np.testing.assert_allclose(G(z, level=4, alpha=0.0), old_rgb, atol=1e-6)
  np.testing.assert_allclose(G(z, level=4, alpha=1.0), new_rgb, atol=1e-6)
  np.testing.assert_allclose(G(z, level=4, alpha=0.25), 0.75 * old_rgb + 0.25 * new_rgb,
                             atol=1e-5)
  # D at alpha 0 sees only the downsampled image: D(level 4) == D(level 3) on it.
  images = new_rgb
  np.testing.assert_allclose(D(images, level=4, alpha=0.0),
                             D(progan_layers.downsample(images), level=3, alpha=1.0), atol=1e-5)
  x = D._block(D._from_rgb(images, 4), 4)  # pylint: disable=protected-access
  x = D.mbstd(D._block(x, 3))  # pylint: disable=protected-access
  features = D.flatten(progan_layers.leaky_relu(D.b4_conv(x)))
  np.testing.assert_allclose(D(images, level=4, alpha=1.0),
                             D.b4_score(progan_layers.leaky_relu(D.b4_dense(features))), atol=1e-5)


def test_d_features_are_the_flattened_b4_conv_that_feeds_its_dense_layers():
  networks, _ = _tiny_state()
  D = networks["D"]
  for level in (2, 3, 4):
    images = tf.random.stateless_uniform([4, 2 ** level, 2 ** level, 1], [2, level], -1.0, 1.0)
    features = D.features(images, level=level, alpha=0.5)
    assert features.shape == (4, 4 * 4 * 8)  # 4x4 maps of nf(1) = min(64 / 2, 8) features.
    scores = D.b4_score(progan_layers.leaky_relu(D.b4_dense(features)))
    np.testing.assert_allclose(scores, D(images, level=level, alpha=0.5), atol=1e-6)


def test_real_crossfade_mixes_the_level_with_the_upsampled_level_below_like_g():
  images = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
  images = progan_layers.upsample(images)  # 8x8, level 3.
  images += tf.reshape(tf.range(64, dtype=tf.float32) % 2, [1, 8, 8, 1])  # Detail within 2x2.
  coarse = progan_layers.upsample(progan_layers.downsample(images))
  np.testing.assert_allclose(progan.crossfade_reals(images, 0.0), coarse)
  np.testing.assert_allclose(progan.crossfade_reals(images, 1.0), images)
  np.testing.assert_allclose(progan.crossfade_reals(images, 0.5), 0.5 * (images + coarse))
  # G's old path is the same operation: upsample(toRGB(x)) is constant on 2x2 blocks.
  networks, _ = _tiny_state(8)
  rgb = networks["G"](tf.ones([2, 8]), level=3, alpha=0.0)
  np.testing.assert_allclose(progan.crossfade_reals(rgb, 0.0), rgb, atol=1e-6)


def test_the_1024_networks_at_reduced_width_step_at_512_and_sample_at_1024():
  hparams = dict(TINY, latent_dim=4, fmap_base=2048, fmap_max=4)  # 4 maps at every level.
  networks, optimizers = _tiny_state(1024, hparams, channels=3)
  assert networks["G"].max_level == 10
  assert sorted(networks["G"].blocks) == sorted(f"b{2 ** level}" for level in range(3, 11))
  phase = schedule.PhaseState()
  phase.alpha.assign(0.5)  # Fading in b512.
  batch = {"images": tf.random.stateless_uniform([2, 512, 512, 3], [0, 9], -1.0, 1.0)}
  losses = progan.train_step(networks, optimizers, batch, _context(2, phase=phase), hparams)
  assert all(np.isfinite(float(value)) for value in losses.values())
  phase.level.assign(10)
  assert progan.serving(networks, hparams, phase).generate(tf.zeros([1, 4])).shape == (1, 1024, 1024, 3)


def test_g_ema_starts_equal_to_g_and_moves_slower():
  networks, optimizers = _tiny_state(8)
  for g, e in zip(networks["G"].variables, networks["G_ema"].variables):
    np.testing.assert_array_equal(g.numpy(), e.numpy())
  batch = {"images": tf.zeros([4, 8, 8, 1])}
  before = [v.numpy() for v in networks["G"].variables_at(3)]
  progan.train_step(networks, optimizers, batch, _context(4), TINY)
  g_moved = sum(np.abs(v.numpy() - b).sum()
                for v, b in zip(networks["G"].variables_at(3), before))
  assert g_moved > 0
  # G_ema moves by (1 - decay) times G's move, weight by weight, up to float32 rounding of
  # decay * ema + (1 - decay) * g (a few ulps of the weights, which dwarf one step's move).
  for g, e, b in zip(networks["G"].variables_at(3), networks["G_ema"].variables_at(3), before):
    ulps = 4 * np.finfo(np.float32).eps * (np.abs(b) + np.abs(g.numpy()))
    np.testing.assert_array_less(
        np.abs((e.numpy() - b) - (1 - TINY["ema_decay"]) * (g.numpy() - b)), ulps + 1e-12)


def test_ema_kimg_halves_g_emas_memory_every_ema_kimg_thousand_images_at_any_minibatch():
  hparams = dict(TINY, ema_kimg=0.002)  # Half-life 2 images: beta 0.5^2 at a batch of 4.
  assert progan.ema_beta(hparams, 4) == 0.25 and progan.ema_beta(hparams, 2) == 0.5
  assert progan.ema_beta(TINY, 4) == TINY["ema_decay"]  # ema_kimg 0: the paper's per-update beta.
  networks, optimizers = _tiny_state(8, hparams)
  before = [v.numpy() for v in networks["G"].variables_at(3)]
  progan.train_step(networks, optimizers, {"images": tf.zeros([4, 8, 8, 1])}, _context(4), hparams)
  for g, e, b in zip(networks["G"].variables_at(3), networks["G_ema"].variables_at(3), before):
    np.testing.assert_allclose(e.numpy(), 0.25 * b + 0.75 * g.numpy(), rtol=1e-6, atol=1e-7)


def test_mirror_flips_left_right_exactly_the_images_whose_coin_is_at_least_one_half():
  images = tf.reshape(tf.range(3 * 2 * 4, dtype=tf.float32), [3, 2, 4, 1])
  coins = tf.constant([0.2, 0.5, 0.99], shape=[3, 1, 1, 1])
  mirrored = progan.mirror(images, coins).numpy()
  np.testing.assert_array_equal(mirrored[0], images[0])
  for index in (1, 2):
    np.testing.assert_array_equal(mirrored[index], images[index].numpy()[:, ::-1])


def _copy_state(source):
  """A second tiny state with the weights of `source`'s networks."""
  networks, optimizers = _tiny_state(8)
  for name in networks:
    for target, value in zip(networks[name].variables, source[name].variables):
      target.assign(value)
  return networks, optimizers


def test_mirror_augment_trains_as_if_the_reals_were_flipped_by_the_steps_own_coins():
  flipped_run = _tiny_state(8)
  plain_run = _copy_state(flipped_run[0])
  images = tf.random.stateless_uniform([4, 8, 8, 1], [5, 6], -1.0, 1.0)
  context = _context(4, step=7)
  coins = context.uniform([4, 1, 1, 1], salt=salts.PROGAN_MIRROR)
  assert 0 < int(tf.reduce_sum(tf.cast(coins >= 0.5, tf.int32))) < 4  # Some flip, some not.
  mirrored = dict(TINY, mirror_augment=True)
  with_mirror = progan.train_step(*flipped_run, {"images": images}, context, mirrored)
  by_hand = progan.train_step(*plain_run, {"images": progan.mirror(images, coins)},
                              _context(4, step=7), TINY)
  assert {k: float(v) for k, v in with_mirror.items()} == {k: float(v) for k, v in by_hand.items()}
  for name in ("G", "D", "G_ema"):
    for a, b in zip(flipped_run[0][name].variables, plain_run[0][name].variables):
      np.testing.assert_array_equal(a.numpy(), b.numpy())


def _record_penalty_targets(monkeypatch):
  """A list that fills with the `target` of every gradient_penalty call the step makes."""
  targets = []
  penalty = progan.losses.gradient_penalty

  def recording_penalty(*args, target=1.0):
    targets.append(target)
    return penalty(*args, target=target)

  monkeypatch.setattr(progan.losses, "gradient_penalty", recording_penalty)
  return targets


def test_the_step_asks_the_penalty_for_gradient_norms_of_wgan_target(monkeypatch):
  targets = _record_penalty_targets(monkeypatch)
  networks, optimizers = _tiny_state(8)
  progan.train_step(networks, optimizers, {"images": tf.zeros([4, 8, 8, 1])}, _context(4),
                    dict(TINY, wgan_target=750.0))
  assert targets == [750.0]


def test_below_the_top_the_penalty_asks_for_wgan_target_times_the_upscaling_to_the_top(
    monkeypatch):
  targets = _record_penalty_targets(monkeypatch)
  networks, optimizers = _tiny_state(16)
  for level in (2, 3, 4):
    images = tf.zeros([4, 2 ** level, 2 ** level, 1])
    progan.train_step(networks, optimizers, {"images": images}, _context(4),
                      dict(TINY, wgan_target=750.0))
  assert targets == [3000.0, 1500.0, 750.0]


def test_the_penalty_at_8x8_of_16x16_networks_is_the_paper_codes_on_the_images_upscaled_to_16x16():
  # The paper's code feeds D images upscaled (nearest) to the top resolution, D box-filters
  # them down, and loss.py penalizes (||grad|| - 1)^2 of that full-resolution gradient.
  keras.utils.set_random_seed(0)
  networks, optimizers = _tiny_state(16)
  G, D = networks["G"], networks["D"]
  phase = schedule.PhaseState()
  phase.alpha.assign(0.5)
  context = _context(4, step=3, phase=phase)
  images = tf.random.stateless_uniform([4, 8, 8, 1], [3, 4], -1.0, 1.0)
  # The step's own draws: the fakes D sees and the interpolation weights.
  fake = G(context.normal([4, 8], salt=salts.PROGAN_D_Z), level=3, alpha=0.5, training=True)
  epsilon = context.uniform([4, 1, 1, 1], salt=salts.PROGAN_PENALTY)
  mixed = epsilon * progan.crossfade_reals(images, 0.5) + (1.0 - epsilon) * fake

  def norms_at(resolution_images):
    with tf.GradientTape() as tape:
      tape.watch(resolution_images)
      scores = D(progan_layers.downsample(resolution_images) if resolution_images.shape[1] == 16
                 else resolution_images, level=3, alpha=0.5)
    return np.sqrt(np.sum(np.square(tape.gradient(scores, resolution_images).numpy()),
                          axis=(1, 2, 3)))

  full_norms, own_norms = norms_at(progan_layers.upsample(mixed)), norms_at(mixed)
  np.testing.assert_allclose(full_norms, own_norms / 2, rtol=1e-5)
  losses = progan.train_step(networks, optimizers, {"images": images}, context, TINY)
  np.testing.assert_allclose(float(losses["gradient_penalty"]),
                             np.mean(np.square(full_norms - 1.0)), rtol=1e-5)
  # The level's own norms pulled to 1, the penalty before the fix, is another number.
  assert abs(np.mean(np.square(own_norms - 1.0)) - float(losses["gradient_penalty"])) > 0.05


def test_learning_rate_rampup_is_exp_of_minus_5_times_the_squared_remaining_fraction():
  factors = [float(schedule.rampup_factor(shown, 40)) for shown in (0, 20_000, 30_000, 40_000,
                                                                     90_000)]
  np.testing.assert_allclose(factors, [np.exp(-5.0), np.exp(-1.25), np.exp(-0.3125), 1.0, 1.0],
                             rtol=1e-6)
  hparams = dict(progan.DEFAULT_HPARAMS, learning_rate_rampup_kimg=40)
  assert {p.learning_rate_rampup_kimg for p in progan.phases(hparams, (16, 16, 1))} == {40}


def test_the_paper_schedule_for_celeba_hq_grows_4_to_1024_with_its_batch_sizes():
  hparams = dict(progan.DEFAULT_HPARAMS, training_kimg=800, transition_kimg=800, total_kimg=19000,
                 minibatch_overrides={"256": 14, "512": 6, "1024": 3})
  schedule = progan.phases(hparams, (1024, 1024, 3))
  assert len(schedule) == 17  # 4x4 stable, then a transition and a stable phase per level.
  assert [p.level for p in schedule] == [2] + [level for level in range(3, 11) for _ in (0, 1)]
  assert [p.transition for p in schedule[:3]] == [False, True, False]
  assert sum(p.kimg for p in schedule) == 19000
  assert schedule[-1].kimg == 19000 - 16 * 800
  assert {p.level: p.batch_size for p in schedule} == {
      2: 16, 3: 16, 4: 16, 5: 16, 6: 16, 7: 16, 8: 14, 9: 6, 10: 3}
  assert all(p.learning_rates == {"G": 1e-3, "D": 1e-3} for p in schedule)


def test_a_short_total_kimg_cuts_the_schedule_inside_a_phase():
  hparams = dict(progan.DEFAULT_HPARAMS, training_kimg=10, transition_kimg=10, total_kimg=25)
  schedule = progan.phases(hparams, (32, 32, 1))
  assert [(p.level, p.transition, p.kimg) for p in schedule] == [
      (2, False, 10), (3, True, 10), (3, False, 5)]


def test_alpha_rises_linearly_through_a_transition_and_is_1_elsewhere():
  transition = schedule.Phase(level=3, kimg=1, transition=True, batch_size=4, learning_rates={})
  stable = schedule.Phase(level=3, kimg=1, transition=False, batch_size=4, learning_rates={})
  assert [schedule.alpha_at(transition, 1000, shown) for shown in (1000, 1250, 1999)] == [
      0.0, 0.25, 0.999]
  assert schedule.alpha_at(stable, 0, 0) == 1.0
  assert [schedule.find_phase([stable, transition], shown) for shown in (0, 999, 1000, 2000)] == [
      0, 0, 1, 2]


@pytest.mark.parametrize("name,value,message", [
    ("start_resolution", 6, "start_resolution=6 is not a power of two"),
    ("minibatch_default", 6, "Minibatch size 6 must be positive and divisible by mbstd_group"),
    ("minibatch_overrides", {"48": 4}, "resolution 48, which is not a power of two"),
    ("ema_decay", 1.0, "ema_decay must be in"),
    ("ema_kimg", -1.0, "ema_kimg must be 0 or more"),
    ("wgan_target", 0.0, "wgan_target must be positive"),
    ("learning_rate_rampup_kimg", -1.0, "learning_rate_rampup_kimg must be 0 or more"),
])
def test_bad_hyperparameters_are_refused_with_one_sentence(name, value, message):
  with pytest.raises(ValueError, match=message):
    progan.validate_hparams(dict(progan.DEFAULT_HPARAMS, **{name: value}))


def test_networks_refuse_images_that_are_not_power_of_two_squares():
  with pytest.raises(ValueError, match="square power-of-two images"):
    progan.build(TINY, (28, 28, 1))
  assert progan_networks.MIN_LEVEL == 2

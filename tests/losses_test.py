"""Tests for keras_gen.losses: hand-computed values, shapes, stability, penalties."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from keras_gen import losses

REAL_LOGITS = [1.0, -0.5, 4.0]
FAKE_LOGITS = [-2.0, 0.0, 3.0]


def softplus(x):
  return math.log1p(math.exp(x))


def sigmoid(x):
  return 1.0 / (1.0 + math.exp(-x))


def generator_losses():
  return [pair[0] for pair in losses.GAN_LOSSES.values()]


def discriminator_losses():
  return [pair[1] for pair in losses.GAN_LOSSES.values()]


# Hand-computed values.


def test_minimax_generator_loss_matches_hand_computed_value():
  expected = [math.log(1.0 - sigmoid(x)) for x in FAKE_LOGITS]
  # Spelled out for the first logit: log(1 - 1/(1+e^2)).
  assert expected[0] == pytest.approx(math.log(1.0 - 1.0 / (1.0 + math.exp(2.0))))
  np.testing.assert_allclose(
      losses.minimax_generator_loss(FAKE_LOGITS), expected, rtol=1e-6)


def test_minimax_discriminator_loss_matches_hand_computed_value():
  expected = [-math.log(sigmoid(real)) - math.log(1.0 - sigmoid(fake))
              for real, fake in zip(REAL_LOGITS, FAKE_LOGITS)]
  np.testing.assert_allclose(
      losses.minimax_discriminator_loss(REAL_LOGITS, FAKE_LOGITS),
      expected, rtol=1e-6)


def test_non_saturating_generator_loss_matches_hand_computed_value():
  expected = [-math.log(sigmoid(x)) for x in FAKE_LOGITS]
  assert expected[0] == pytest.approx(-math.log(1.0 / (1.0 + math.exp(2.0))))
  np.testing.assert_allclose(
      losses.non_saturating_generator_loss(FAKE_LOGITS), expected, rtol=1e-6)


def test_non_saturating_discriminator_loss_equals_minimax_discriminator_loss():
  np.testing.assert_allclose(
      losses.non_saturating_discriminator_loss(REAL_LOGITS, FAKE_LOGITS),
      losses.minimax_discriminator_loss(REAL_LOGITS, FAKE_LOGITS),
      rtol=1e-6)


def test_non_saturating_discriminator_loss_smooths_only_the_real_label():
  smoothing = 0.1
  real_label = 1.0 - smoothing
  expected = [
      -real_label * math.log(sigmoid(real))
      - (1.0 - real_label) * math.log(1.0 - sigmoid(real))
      - math.log(1.0 - sigmoid(fake))
      for real, fake in zip(REAL_LOGITS, FAKE_LOGITS)]
  np.testing.assert_allclose(
      losses.non_saturating_discriminator_loss(
          REAL_LOGITS, FAKE_LOGITS, label_smoothing=smoothing),
      expected, rtol=1e-6)


@pytest.mark.parametrize("label_smoothing", [-0.1, 1.0])
def test_non_saturating_discriminator_loss_rejects_label_smoothing_outside_unit_interval(
        label_smoothing):
  with pytest.raises(ValueError, match="label_smoothing"):
    losses.non_saturating_discriminator_loss(
        REAL_LOGITS, FAKE_LOGITS, label_smoothing=label_smoothing)


def test_wasserstein_generator_loss_is_negated_fake_score():
  np.testing.assert_allclose(
      losses.wasserstein_generator_loss(FAKE_LOGITS), [2.0, 0.0, -3.0])


def test_wasserstein_discriminator_loss_is_fake_minus_real_score():
  # [-2 - 1, 0 - (-0.5), 3 - 4]
  np.testing.assert_allclose(
      losses.wasserstein_discriminator_loss(REAL_LOGITS, FAKE_LOGITS),
      [-3.0, 0.5, -1.0])


def test_least_squares_generator_loss_matches_hand_computed_value():
  # 0.5 * (x - 1)^2 for x in [-2, 0, 3].
  np.testing.assert_allclose(
      losses.least_squares_generator_loss(FAKE_LOGITS),
      [0.5 * 9.0, 0.5 * 1.0, 0.5 * 4.0])


def test_least_squares_discriminator_loss_matches_hand_computed_value():
  # 0.5 * (real - 1)^2 + 0.5 * fake^2.
  expected = [0.5 * 0.0 + 0.5 * 4.0,
              0.5 * 2.25 + 0.5 * 0.0,
              0.5 * 9.0 + 0.5 * 9.0]
  np.testing.assert_allclose(
      losses.least_squares_discriminator_loss(REAL_LOGITS, FAKE_LOGITS),
      expected)


def test_hinge_generator_loss_is_negated_fake_score():
  np.testing.assert_allclose(
      losses.hinge_generator_loss(FAKE_LOGITS), [2.0, 0.0, -3.0])


def test_hinge_discriminator_loss_matches_hand_computed_value():
  # relu(1 - real) + relu(1 + fake).
  expected = [max(0.0, 1.0 - 1.0) + max(0.0, 1.0 - 2.0),
              max(0.0, 1.0 + 0.5) + max(0.0, 1.0 + 0.0),
              max(0.0, 1.0 - 4.0) + max(0.0, 1.0 + 3.0)]
  assert expected == [0.0, 2.5, 4.0]
  np.testing.assert_allclose(
      losses.hinge_discriminator_loss(REAL_LOGITS, FAKE_LOGITS), expected)


# Shapes, dtypes and stability, for every pair in the registry.


@pytest.mark.parametrize("generator_loss", generator_losses())
@pytest.mark.parametrize("logit_shape", [[3], [3, 1]])
def test_generator_losses_return_float32_per_example_values(
        generator_loss, logit_shape):
  fake_logits = tf.reshape(tf.constant(FAKE_LOGITS, tf.float16), logit_shape)
  loss = generator_loss(fake_logits)
  assert loss.shape == (3,)
  assert loss.dtype == tf.float32


@pytest.mark.parametrize("discriminator_loss", discriminator_losses())
@pytest.mark.parametrize("logit_shape", [[3], [3, 1]])
def test_discriminator_losses_return_float32_per_example_values(
        discriminator_loss, logit_shape):
  real_logits = tf.reshape(tf.constant(REAL_LOGITS), logit_shape)
  fake_logits = tf.reshape(tf.constant(FAKE_LOGITS), logit_shape)
  loss = discriminator_loss(real_logits, fake_logits)
  assert loss.shape == (3,)
  assert loss.dtype == tf.float32


@pytest.mark.parametrize("discriminator_loss", discriminator_losses())
def test_discriminator_losses_reject_logits_with_more_than_one_column(
        discriminator_loss):
  with pytest.raises(ValueError, match=r"\[batch\] or \[batch, 1\]"):
    discriminator_loss(tf.zeros([3, 2]), tf.zeros([3, 2]))


@pytest.mark.parametrize("name", list(losses.GAN_LOSSES))
def test_gan_losses_are_finite_for_logits_of_plus_minus_100(name):
  generator_loss, discriminator_loss = losses.get_gan_loss(name)
  extreme = tf.constant([-100.0, 100.0])
  assert np.all(np.isfinite(generator_loss(extreme)))
  assert np.all(np.isfinite(discriminator_loss(extreme, extreme)))
  assert np.all(np.isfinite(discriminator_loss(-extreme, extreme)))


def test_cross_entropy_losses_at_plus_minus_100_equal_the_exact_limits():
  extreme = tf.constant([-100.0, 100.0])
  # log(1 - sigmoid(x)) -> -x for large x; -log(sigmoid(x)) -> -x for very
  # negative x; both are ~0 on the other side.
  np.testing.assert_allclose(
      losses.minimax_generator_loss(extreme), [0.0, -100.0], atol=1e-6)
  np.testing.assert_allclose(
      losses.non_saturating_generator_loss(extreme), [100.0, 0.0], atol=1e-6)
  np.testing.assert_allclose(
      losses.minimax_discriminator_loss(extreme, extreme),
      [100.0, 100.0], atol=1e-6)


@pytest.mark.parametrize("name", list(losses.GAN_LOSSES))
def test_gan_losses_compile_with_xla_and_match_eager_values(name):
  generator_loss, discriminator_loss = losses.get_gan_loss(name)

  @tf.function(jit_compile=True)
  def compiled(real_logits, fake_logits):
    return (generator_loss(fake_logits),
            discriminator_loss(real_logits, fake_logits))

  real_logits = tf.constant(REAL_LOGITS)
  fake_logits = tf.constant(FAKE_LOGITS)
  compiled_generator, compiled_discriminator = compiled(
      real_logits, fake_logits)
  np.testing.assert_allclose(
      compiled_generator, generator_loss(fake_logits), rtol=1e-6)
  np.testing.assert_allclose(
      compiled_discriminator, discriminator_loss(real_logits, fake_logits),
      rtol=1e-6)


# Registry.


def test_get_gan_loss_returns_the_matched_pair():
  assert losses.get_gan_loss("wasserstein") == (
      losses.wasserstein_generator_loss,
      losses.wasserstein_discriminator_loss)
  assert set(losses.GAN_LOSSES) == {
      "minimax", "non_saturating", "wasserstein", "least_squares", "hinge"}


def test_get_gan_loss_error_for_unknown_name_lists_valid_names():
  with pytest.raises(ValueError) as error:
    losses.get_gan_loss("relativistic")
  message = str(error.value)
  assert "'relativistic'" in message
  for name in losses.GAN_LOSSES:
    assert repr(name) in message


# Gradient penalty.


def linear_critic(kernel, sample_shape):
  """A Dense(1) critic f(x) = w.x + b on flattened samples, with w fixed."""
  critic = keras.Sequential([layers.Flatten(), layers.Dense(1)])
  critic.build((None,) + tuple(sample_shape))
  critic.layers[1].kernel.assign(np.reshape(kernel, [-1, 1]))
  critic.layers[1].bias.assign([0.7])
  return critic


def test_gradient_penalty_of_linear_critic_is_norm_minus_one_squared_for_any_epsilon():
  kernel = np.array([1.0, 2.0, 2.0, 0.5], np.float32)
  critic = linear_critic(kernel, sample_shape=[2, 2, 1])
  real = tf.random.stateless_normal([5, 2, 2, 1], seed=[1, 2])
  fake = tf.random.stateless_normal([5, 2, 2, 1], seed=[3, 4])
  epsilon = tf.constant([0.0, 0.25, 0.5, 0.9, 1.0], shape=[5, 1, 1, 1])
  penalty = losses.gradient_penalty(critic, real, fake, epsilon)
  # ||w|| = sqrt(1 + 4 + 4 + 0.25) = sqrt(9.25).
  expected = (math.sqrt(9.25) - 1.0) ** 2
  assert penalty.shape == (5,)
  assert penalty.dtype == tf.float32
  np.testing.assert_allclose(penalty, [expected] * 5, rtol=1e-6)


def test_gradient_penalty_with_a_target_is_the_squared_relative_miss_of_that_norm():
  # Progressive GAN's CIFAR-10 setting: ((||grad|| - gamma) / gamma)^2 with gamma = 750.
  kernel = np.array([600.0, 0.0, 0.0, 800.0], np.float32)  # ||w|| = 1000.
  critic = linear_critic(kernel, sample_shape=[2, 2, 1])
  real = tf.random.stateless_normal([3, 2, 2, 1], seed=[1, 2])
  fake = tf.random.stateless_normal([3, 2, 2, 1], seed=[3, 4])
  epsilon = tf.constant([0.0, 0.5, 1.0], shape=[3, 1, 1, 1])
  penalty = losses.gradient_penalty(critic, real, fake, epsilon, target=750.0)
  np.testing.assert_allclose(penalty, [(250.0 / 750.0) ** 2] * 3, rtol=1e-6)


def test_gradient_penalty_evaluates_the_critic_at_the_epsilon_interpolate():
  # f(x) = 0.5 ||x||^2 has gradient x, so the penalty is (||x_hat|| - 1)^2.
  real = tf.constant([[3.0, 0.0], [0.0, 1.0]])
  fake = tf.constant([[1.0, 0.0], [0.0, 3.0]])
  epsilon = tf.constant([[0.5], [0.25]])
  penalty = losses.gradient_penalty(
      lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=1), real, fake, epsilon)
  # x_hat = [0.5*3 + 0.5*1, 0] = [2, 0] and [0, 0.25*1 + 0.75*3] = [0, 2.5].
  np.testing.assert_allclose(penalty, [(2.0 - 1.0) ** 2, (2.5 - 1.0) ** 2],
                             rtol=1e-6)


def test_gradient_penalty_double_backprop_matches_hand_derived_gradient_for_linear_critic():
  kernel = np.array([1.0, 2.0, 2.0], np.float32)
  critic = linear_critic(kernel, sample_shape=[3])
  real = tf.random.stateless_normal([4, 3], seed=[5, 6])
  fake = tf.random.stateless_normal([4, 3], seed=[7, 8])
  epsilon = tf.random.stateless_uniform([4, 1], seed=[9, 10])
  with tf.GradientTape() as tape:
    penalty = tf.reduce_mean(
        losses.gradient_penalty(critic, real, fake, epsilon))
  kernel_gradient, bias_gradient = tape.gradient(
      penalty, critic.trainable_variables)
  # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||, with ||w|| = 3.
  expected = 2.0 * (3.0 - 1.0) * kernel / 3.0
  np.testing.assert_allclose(kernel_gradient[:, 0], expected, rtol=1e-5)
  # The bias does not change the input gradient, so the penalty ignores it.
  assert bias_gradient is None


def two_layer_critic():
  keras.utils.set_random_seed(0)
  critic = keras.Sequential([layers.Dense(8, activation="tanh"),
                             layers.Dense(1)])
  critic.build((None, 3))
  return critic


def test_gradient_penalty_double_backprop_through_nonlinear_critic_compiles_with_xla():
  critic = two_layer_critic()
  real = tf.random.stateless_normal([4, 3], seed=[11, 12])
  fake = tf.random.stateless_normal([4, 3], seed=[13, 14])
  epsilon = tf.random.stateless_uniform([4, 1], seed=[15, 16])

  def penalty_gradients(real, fake, epsilon):
    with tf.GradientTape() as tape:
      penalty = tf.reduce_mean(
          losses.gradient_penalty(critic, real, fake, epsilon))
    hidden, output = critic.layers
    # The output bias does not change the input gradient, so it is left out.
    return tape.gradient(penalty,
                         [hidden.kernel, hidden.bias, output.kernel])

  compiled = tf.function(penalty_gradients, jit_compile=True)
  compiled_gradients = compiled(real, fake, epsilon)
  eager_gradients = penalty_gradients(real, fake, epsilon)
  for compiled_gradient, eager_gradient in zip(compiled_gradients,
                                               eager_gradients):
    assert np.all(np.isfinite(compiled_gradient))
    np.testing.assert_allclose(compiled_gradient, eager_gradient,
                               rtol=1e-4, atol=1e-6)
    assert np.any(np.abs(compiled_gradient) > 1e-3)


def test_gradient_penalty_double_backprop_through_nonlinear_critic_matches_finite_differences():
  critic = two_layer_critic()
  real = tf.random.stateless_normal([4, 3], seed=[17, 18])
  fake = tf.random.stateless_normal([4, 3], seed=[19, 20])
  epsilon = tf.random.stateless_uniform([4, 1], seed=[21, 22])
  first_kernel = critic.layers[0].kernel

  def mean_penalty():
    return float(tf.reduce_mean(
        losses.gradient_penalty(critic, real, fake, epsilon)))

  with tf.GradientTape() as tape:
    penalty = tf.reduce_mean(
        losses.gradient_penalty(critic, real, fake, epsilon))
  analytic = tape.gradient(penalty, first_kernel).numpy()

  # Central differences on three entries of the first kernel.
  step = 1e-2
  original = first_kernel.numpy()
  for row, column in [(0, 0), (1, 3), (2, 7)]:
    perturbation = np.zeros_like(original)
    perturbation[row, column] = step
    first_kernel.assign(original + perturbation)
    penalty_plus = mean_penalty()
    first_kernel.assign(original - perturbation)
    penalty_minus = mean_penalty()
    first_kernel.assign(original)
    numeric = (penalty_plus - penalty_minus) / (2.0 * step)
    assert analytic[row, column] == pytest.approx(numeric, rel=1e-2,
                                                  abs=1e-4)


def test_gradient_penalty_rejects_epsilon_without_trailing_unit_axes():
  real = tf.zeros([2, 4, 4, 3])
  with pytest.raises(ValueError, match="epsilon"):
    losses.gradient_penalty(lambda x: tf.reduce_sum(x, axis=[1, 2, 3]),
                            real, real, tf.fill([2], 0.5))


# Drift and R1 penalties.


def test_drift_penalty_is_squared_real_score():
  np.testing.assert_allclose(
      losses.drift_penalty(tf.constant([[-2.0], [0.0], [3.0]])),
      [4.0, 0.0, 9.0])


def test_progan_critic_loss_of_these_terms_is_the_official_loss_py_value():
  # D_wgangp_acgan in the paper's loss.py, per example and then averaged (train.py):
  # fake - real + (||grad at lerp(real, fake, mix)|| - 1)^2 * 10 + 0.001 * real^2. The critic
  # 0.05 ||x||^2 + 0.2 w.x + 30 has gradient 0.1 x + 0.2 w, so the norms differ per example,
  # and its offset of 30 gives the drift term a weight like the others' (-0.19, 2.12, 0.95).
  rng = np.random.default_rng(7)
  w = rng.normal(size=[1, 2, 2, 3]).astype(np.float32)
  real, fake = (rng.normal(size=[6, 2, 2, 3]).astype(np.float32) for _ in range(2))
  mix = rng.uniform(size=[6, 1, 1, 1]).astype(np.float32)

  def critic(x):
    return (0.05 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])
            + 0.2 * tf.reduce_sum(x * w, axis=[1, 2, 3]) + 30.0)

  real_scores, fake_scores = critic(real).numpy(), critic(fake).numpy()
  norms = np.sqrt(np.sum(np.square(0.1 * (real + (fake - real) * mix) + 0.2 * w), axis=(1, 2, 3)))
  official = np.mean(fake_scores - real_scores + np.square(norms - 1.0) * 10.0
                     + 0.001 * np.square(real_scores))
  # keras_gen's epsilon weighs the reals: epsilon = 1 - mix gives the same interpolates.
  ours = (tf.reduce_mean(losses.wasserstein_discriminator_loss(real_scores, fake_scores))
          + 10.0 * tf.reduce_mean(losses.gradient_penalty(critic, real, fake, 1.0 - mix))
          + 0.001 * tf.reduce_mean(losses.drift_penalty(real_scores)))
  np.testing.assert_allclose(float(ours), official, rtol=1e-5)
  np.testing.assert_allclose(official, -0.1926 + 2.1248 + 0.9494, rtol=1e-3)


def test_r1_penalty_of_linear_discriminator_is_squared_kernel_norm():
  kernel = np.array([1.0, 2.0, 2.0, 0.5], np.float32)
  discriminator = linear_critic(kernel, sample_shape=[2, 2, 1])
  real = tf.random.stateless_normal([3, 2, 2, 1], seed=[23, 24])
  penalty = losses.r1_penalty(discriminator, real)
  assert penalty.shape == (3,)
  np.testing.assert_allclose(penalty, [9.25] * 3, rtol=1e-6)


def test_r1_penalty_keeps_examples_separate():
  # D(x) = sum(x^2) has gradient 2x, so R1 = 4 ||x||^2 per example.
  real = tf.constant([[1.0, 0.0], [1.0, 2.0]])
  penalty = losses.r1_penalty(
      lambda x: tf.reduce_sum(tf.square(x), axis=1, keepdims=True), real)
  np.testing.assert_allclose(penalty, [4.0 * 1.0, 4.0 * 5.0], rtol=1e-6)


# Reconstruction losses.


def test_squared_error_sums_over_every_non_batch_axis():
  x = np.arange(8, dtype=np.float32).reshape([2, 2, 2, 1])
  x_hat = np.zeros_like(x)
  # 0 + 1 + 4 + 9 = 14 and 16 + 25 + 36 + 49 = 126.
  np.testing.assert_allclose(losses.squared_error(x, x_hat), [14.0, 126.0])


def test_bernoulli_cross_entropy_matches_hand_computed_value():
  x = tf.constant([[0.0, 1.0, 0.25], [1.0, 0.5, 0.0]])
  logits = tf.constant([[-2.0, 0.0, 3.0], [1.0, -1.0, 0.5]])
  expected = [
      sum(-t * math.log(sigmoid(z)) - (1.0 - t) * math.log(1.0 - sigmoid(z))
          for t, z in zip(row_x, row_logits))
      for row_x, row_logits in zip(x.numpy().tolist(), logits.numpy().tolist())]
  np.testing.assert_allclose(
      losses.bernoulli_cross_entropy(x, logits), expected, rtol=1e-6)


def test_bernoulli_cross_entropy_is_finite_and_exact_for_logits_of_plus_minus_100():
  x = tf.constant([[1.0, 0.0], [0.0, 1.0]])
  logits = tf.constant([[100.0, -100.0], [100.0, -100.0]])
  # Confident and right costs ~0; confident and wrong costs 100 per pixel.
  np.testing.assert_allclose(
      losses.bernoulli_cross_entropy(x, logits), [0.0, 200.0], atol=1e-6)


@pytest.mark.parametrize(
    "reconstruction_loss",
    [losses.squared_error, losses.bernoulli_cross_entropy])
def test_reconstruction_losses_reject_mismatched_shapes(reconstruction_loss):
  with pytest.raises(ValueError, match="same shape"):
    reconstruction_loss(tf.zeros([4, 1]), tf.zeros([4]))

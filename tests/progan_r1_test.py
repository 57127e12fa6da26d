"""Progressive GAN with loss=ns_r1: the non-saturating logistic loss and R1 on the reals,
taken lazily every r1_interval D steps and scaled by it (Karras et al. 2020)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import schedule
from keras_gen.bench import op_profile
from keras_gen.bench import progan_benchmark
from keras_gen.engine import loop
from keras_gen.engine import step_context
from keras_gen.families import progan
from keras_gen.families import salts

NS_R1 = dict(progan.DEFAULT_HPARAMS, loss="ns_r1", r1_gamma=10.0, r1_interval=4)
TINY = dict(NS_R1, latent_dim=8, fmap_base=64, fmap_max=8, mbstd_group_size=2)
REAL = np.random.default_rng(0).uniform(-1, 1, [3, 2, 2, 1]).astype(np.float32)
FAKE = np.random.default_rng(1).uniform(-1, 1, [3, 2, 2, 1]).astype(np.float32)
A = 0.7


def _softplus(x):
  return np.log1p(np.exp(x))


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _context(step, batch_size=3, phase=None):
  return step_context.StepContext(step=step, seed=0, global_batch_size=batch_size,
                                  family_state=phase)


def _quadratic_critic_loss(step):
  """ns_r1_critic_loss of D(x) = a * sum(x^2), at level 3 of 5 (f^2 = 16), and the
  gradient of its total w.r.t. a, inside a tf.function whose step is a variable (so the
  penalty sits in the tf.cond that training runs)."""
  a = tf.Variable(A)

  def critic(images):
    return a * tf.reduce_sum(tf.square(images), axis=[1, 2, 3])

  @tf.function
  def run(step):
    with tf.GradientTape() as tape:
      d_loss, total, penalties = progan.ns_r1_critic_loss(
          critic, tf.constant(REAL), tf.constant(FAKE), _context(step), NS_R1, level=3,
          top_level=5)
    return d_loss, total, penalties["r1_penalty"], tape.gradient(total, a)

  return [value.numpy() for value in run(tf.constant(step, tf.int64))]


def test_the_logistic_loss_and_r1_of_a_quadratic_critic_are_the_hand_computed_values():
  squares = np.sum(REAL ** 2, axis=(1, 2, 3))
  fake_squares = np.sum(FAKE ** 2, axis=(1, 2, 3))
  d_loss = np.mean(_softplus(-A * squares) + _softplus(A * fake_squares))
  # grad_x D(x) = 2 a x, so ||grad||^2 = 4 a^2 sum(x^2), whose derivative in a is 8 a sum(x^2).
  r1 = np.mean(4 * A ** 2 * squares)
  weight = 10.0 / 2 * 4 / 16  # gamma / 2, times r1_interval, over f^2 = 4^(5 - 3).
  d_loss_grad = np.mean(-_sigmoid(-A * squares) * squares + _sigmoid(A * fake_squares) *
                        fake_squares)

  got_d_loss, total, penalty, gradient = _quadratic_critic_loss(step=8)

  np.testing.assert_allclose([got_d_loss, penalty, total, gradient],
                             [d_loss, r1, d_loss + weight * r1,
                              d_loss_grad + weight * np.mean(8 * A * squares)], rtol=1e-5)


def test_r1_is_taken_only_at_steps_that_are_multiples_of_r1_interval_and_scaled_by_it():
  r1 = np.mean(4 * A ** 2 * np.sum(REAL ** 2, axis=(1, 2, 3)))
  taken = []
  for step in range(10):
    d_loss, total, penalty, _ = _quadratic_critic_loss(step)
    taken.append(step if penalty else None)
    np.testing.assert_allclose(total - d_loss, 10.0 / 2 * 4 / 16 * r1 if penalty else 0.0,
                               rtol=1e-5)
    assert penalty == (pytest.approx(r1, rel=1e-5) if penalty else 0.0)
  assert [step for step in taken if step is not None] == [0, 4, 8]
  assert [progan.r1_weight(dict(NS_R1, r1_interval=interval), 5, 5)
          for interval in (1, 16)] == [5.0, 80.0]


def _tiny_state(resolution=8, hparams=TINY):
  networks = progan.build(hparams, (resolution, resolution, 1))
  optimizers = {}
  for name, (optimizer, variables) in progan.optimizers(hparams, networks).items():
    optimizer.build(variables)
    optimizers[name] = optimizer
  return networks, optimizers


def test_the_step_trains_d_and_g_on_the_logistic_loss_with_r1_and_no_drift_term():
  # A zero learning rate leaves the weights as they were, so the step's losses can be
  # recomputed from the networks' outputs.
  hparams = dict(TINY, learning_rate=0.0)
  networks, optimizers = _tiny_state(8, hparams)
  G, D = networks["G"], networks["D"]
  images = tf.random.stateless_uniform([4, 8, 8, 1], [0, 3], -1.0, 1.0)
  phase = schedule.PhaseState()  # alpha 1.
  context = _context(tf.constant(0, tf.int64), batch_size=4, phase=phase)

  def critic(x):
    return D(x, level=3, alpha=1.0, training=True)[:, 0].numpy()

  fake = G(context.normal([4, 8], salt=salts.PROGAN_D_Z), level=3, alpha=1.0, training=True)
  g_fake = G(context.normal([4, 8], salt=salts.PROGAN_G_Z), level=3, alpha=1.0, training=True)
  with tf.GradientTape() as tape:
    tape.watch(images)
    real_sum = tf.reduce_sum(D(images, level=3, alpha=1.0, training=True))
  squared_norms = np.sum(np.square(tape.gradient(real_sum, images).numpy()), axis=(1, 2, 3))

  losses = progan.train_step(networks, optimizers, {"images": images}, context, hparams)

  assert set(losses) == {"d_loss", "g_loss", "r1_penalty"}
  np.testing.assert_allclose(
      [float(losses[name]) for name in ("d_loss", "g_loss", "r1_penalty")],
      [np.mean(_softplus(-critic(images)) + _softplus(critic(fake))),
       np.mean(_softplus(-critic(g_fake))), np.mean(squared_norms)], rtol=1e-5)
  skipped = progan.train_step(networks, optimizers, {"images": images},
                              _context(tf.constant(1, tf.int64), batch_size=4, phase=phase),
                              hparams)
  assert float(skipped["r1_penalty"]) == 0.0


def _traced_step(step):
  """The tiny ns_r1 step at 8x8 as a concrete function, its step a variable's value (as
  the engine passes it) or a constant."""
  networks, optimizers = _tiny_state()
  phase = schedule.PhaseState()
  images = tf.TensorSpec([4, 8, 8, 1])

  @tf.function
  def run(images):
    current = step.read_value() if isinstance(step, tf.Variable) else tf.constant(step, tf.int64)
    return progan.train_step(networks, optimizers, {"images": images},
                             _context(current, batch_size=4, phase=phase), TINY)

  return run.get_concrete_function(images)


def test_the_steps_that_skip_r1_execute_no_part_of_its_double_backprop():
  traced = _traced_step(tf.Variable(0, dtype=tf.int64))
  conds = [op for op in traced.graph.get_operations() if op.type in ("If", "StatelessIf")
           and op.get_attr("then_branch").name.startswith(progan.LAZY_R1 + "_true")]
  functions = {name: function.graph for name, function in traced.graph._functions.items()}  # pylint: disable=protected-access

  def heavy(name):
    return sorted(op.type for op in op_profile.live_ops(functions[name])
                  if op.type in op_profile.HEAVY_OPS)

  # The forward cond and the cond of its gradient: their false branches hold no
  # convolution or matmul; their true branches hold the penalty's passes.
  assert len(conds) == 2
  assert [heavy(op.get_attr("else_branch").name) for op in conds] == [[], []]
  assert all(heavy(op.get_attr("then_branch").name) for op in conds)
  with_r1, without_r1 = progan_benchmark.lazy_flops(traced)
  # The counts of the two branches are those of the step traced at a step known to take
  # the penalty (0) and one known to skip it (1), which hold one branch and no cond; but
  # the gradient cond returns a gradient for each of its inputs, the real images among
  # them, so their input gradient through the two fromRGB 1x1 convolutions (4x4 and 8x8,
  # 1 -> 8 maps, batch 4) is an output there, which a single graph prunes.
  from_rgb_input_gradients = 2 * 4 * (4 * 4 + 8 * 8) * 8
  assert (with_r1, without_r1) == (
      op_profile.executed_flops(_traced_step(0)) + from_rgb_input_gradients,
      op_profile.executed_flops(_traced_step(1)))
  assert without_r1 < 0.7 * with_r1


@pytest.mark.parametrize("name,value,message", [
    ("loss", "ns", "loss='ns' is not one of wgan_gp, ns_r1."),
    ("r1_interval", 0, "r1_interval must be 1 or more, got 0."),
    ("r1_gamma", -1.0, "r1_gamma must be 0 or more, got -1.0."),
])
def test_bad_r1_hyperparameters_are_refused_with_one_sentence(name, value, message):
  config = config_lib.TrainConfig(model="progan", dataset="progan:unused", model_dir="unused",
                                  hparams={name: value})
  with pytest.raises(config_lib.ConfigError) as error:
    loop.resolve(config)
  assert str(error.value) == f"Model 'progan': {message}"

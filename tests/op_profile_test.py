"""keras_gen.bench.op_profile: the work a step executes, op by op."""

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

from conftest import grappler_optimized
from keras_gen import losses
from keras_gen.bench import op_profile

# One 3x3 convolution of a [2, 8, 8, 3] batch to 4 maps, SAME padding: 2 flops
# per multiply-add, for every output value.
CONV_FLOPS = 2 * (2 * 8 * 8 * 4) * (3 * 3 * 3)


def _step_and_input():
  kernel = tf.Variable(tf.ones([3, 3, 3, 4]))

  @tf.function
  def step(images):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(tf.nn.conv2d(images, kernel, 1, "SAME") ** 2)
    kernel.assign_sub(0.01 * tape.gradient(loss, kernel))
    return loss

  images = tf.random.stateless_normal([2, 8, 8, 3], seed=[0, 1])
  return step.get_concrete_function(images), images


def test_the_profilers_count_is_two_flops_per_multiply_add_of_a_matmul():
  function = tf.function(lambda a, b: tf.matmul(a, b)).get_concrete_function(
      tf.TensorSpec([8, 16]), tf.TensorSpec([16, 4]))
  assert op_profile.all_flops(function) == 2 * 8 * 16 * 4


def test_executed_flops_leave_out_the_input_gradient_nothing_uses():
  concrete_function, _ = _step_and_input()

  types = sorted(item.type for item in op_profile.heavy_work(concrete_function))

  # The forward convolution and the kernel's gradient run; the gradient with
  # respect to the images is built by the tape but feeds nothing.
  assert types == ["Conv2D", "Conv2DBackpropFilter"]
  assert op_profile.executed_flops(concrete_function) == 2 * CONV_FLOPS
  assert op_profile.all_flops(concrete_function) > 3 * CONV_FLOPS


def test_a_gradient_penalty_step_executes_nine_convolutions_counted_by_hand():
  # A one-convolution critic f(x) = sum(conv(x, W)^2), trained as WGAN-GP trains D:
  # f(fake) - f(real) + 10 * penalty at the interpolates, differentiated w.r.t. W.
  kernel = tf.Variable(tf.ones([3, 3, 3, 4]))

  def critic(images):
    return tf.reduce_sum(tf.nn.conv2d(images, kernel, 1, "SAME") ** 2, axis=[1, 2, 3])

  @tf.function
  def step(real, fake, epsilon):
    with tf.GradientTape() as tape:
      total = tf.reduce_mean(critic(fake) - critic(real)) + 10.0 * tf.reduce_mean(
          losses.gradient_penalty(critic, real, fake, epsilon))
    kernel.assign_sub(0.01 * tape.gradient(total, kernel))
    return total

  images = tf.TensorSpec([2, 8, 8, 3])
  concrete_function = step.get_concrete_function(images, images, tf.TensorSpec([2, 1, 1, 1]))

  # Forward on reals, fakes and interpolates (3); the interpolates' input gradient (1);
  # the kernel's gradient through reals and fakes (2); the double backprop through that
  # input gradient: its kernel gradient, the gradient of its output gradient (a forward
  # convolution) and from there the interpolates' kernel gradient (3). The input
  # gradients of reals and fakes feed nothing.
  assert sorted(item.type for item in op_profile.heavy_work(concrete_function)) == (
      ["Conv2D"] * 4 + ["Conv2DBackpropFilter"] * 4 + ["Conv2DBackpropInput"])
  assert op_profile.executed_flops(concrete_function) == 9 * CONV_FLOPS


def test_each_heavy_op_is_replayed_alone_with_its_shapes():
  concrete_function, _ = _step_and_input()

  timings = op_profile.time_heavy_ops(concrete_function, repeats=2)

  assert [item.shapes for item, _ in timings if item.type == "Conv2D"] == [
      [(2, 8, 8, 3), (3, 3, 3, 4)]]
  assert all(seconds > 0 for _, seconds in timings)


def _optimized_op_types(function, *arguments):
  """The op types Grappler leaves in `function`'s graph, as it does before running it."""
  optimized = grappler_optimized(function.get_concrete_function(*arguments).graph,
                                 config_pb2.ConfigProto())
  return [node.op for node in optimized.node] + [
      node.op for function_def in optimized.library.function for node in function_def.node_def]


def test_a_replay_keeps_every_repeat_after_grappler_optimizes_it():
  concrete_function, _ = _step_and_input()
  graph_ops = {op.name: op for op in concrete_function.graph.get_operations()}
  conv = next(item for item in op_profile.heavy_work(concrete_function) if item.type == "Conv2D")

  replay = op_profile._replay(graph_ops[conv.name], repeats=3)  # pylint: disable=protected-access

  # Neither folded into a constant nor merged into one: three convolutions run.
  assert _optimized_op_types(replay.func, *replay.args).count("Conv2D") == 3

"""keras_gen.engine.op_profile: the work a step executes, op by op."""

import tensorflow as tf

from keras_gen.engine import op_profile

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


def test_each_heavy_op_is_replayed_alone_with_its_shapes():
  concrete_function, _ = _step_and_input()

  timings = op_profile.time_heavy_ops(concrete_function, repeats=2)

  assert [item.shapes for item, _ in timings if item.type == "Conv2D"] == [
      [(2, 8, 8, 3), (3, 3, 3, 4)]]
  assert all(seconds > 0 for _, seconds in timings)

"""The engine's StepContext: updates, assignments and sums across replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import reads_left_unordered
from keras_gen import registry
from keras_gen.engine import step_context


def _two_replicas():
  # Reducing on one device, as the engine's CPU replicas do (strategies.make_strategy):
  # collective all-reduces of earlier tests in this process would clash with ours.
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"],
                                        cross_device_ops=tf.distribute.ReductionToOneDevice())


def _context():
  return step_context.StepContext(step=tf.constant(0, tf.int64), seed=0, global_batch_size=2)


def test_all_reduce_sum_sums_over_two_replicas_and_is_the_identity_on_one():
  strategy = _two_replicas()
  context = _context()

  @tf.function
  def run():
    replica = lambda: context.all_reduce_sum(
        [tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.float32) + 1])
    return strategy.experimental_local_results(strategy.run(replica))

  assert [float(values[0]) for values in run()] == [3.0, 3.0]
  assert float(context.all_reduce_sum([tf.constant(2.0)])[0]) == 2.0


def test_a_transaction_undoes_every_write_on_both_replicas_when_one_replicas_loss_is_nan():
  strategy = _two_replicas()
  with strategy.scope():
    weight = keras.Variable(1.0)
    running_mean = keras.Variable(0.0, trainable=False)  # Like a batch-norm statistic.
    optimizer = keras.optimizers.SGD(0.5, momentum=0.9)
    optimizer.build([weight])
  context = _context()
  transaction = step_context.StepTransaction(
      strategy, [weight, running_mean] + list(optimizer.variables))

  @tf.function
  def step(poison_second_replica):
    saved = transaction.begin()

    def replica():
      replica_id = tf.distribute.get_replica_context().replica_id_in_sync_group
      poisoned = tf.logical_and(poison_second_replica, tf.equal(replica_id, 1))
      with tf.GradientTape() as tape:
        loss = weight * tf.where(poisoned, float("nan"), 1.0)
      context.minimize(tape, loss, [weight], optimizer)
      context.assign([running_mean], [running_mean + 1.0])
      return loss

    losses = strategy.run(replica)
    return transaction.end(saved, [strategy.reduce(tf.distribute.ReduceOp.SUM, losses, None)])

  def every_copy():
    return [[float(copy.numpy()) for copy in strategy.experimental_local_results(v.value)]
            for v in [weight, running_mean] + list(optimizer.variables)
            if "learning_rate" not in v.path]

  assert bool(step(tf.constant(False)))
  applied = every_copy()
  # 1 - 0.5 * (1 + 1): the replicas' gradients summed; one iteration; the momentum slot.
  assert applied == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]]
  assert not bool(step(tf.constant(True)))
  assert every_copy() == applied


def test_assign_sets_every_replicas_copy_of_a_mirrored_variable():
  strategy = _two_replicas()
  with strategy.scope():
    variable = keras.Variable(np.zeros([2], np.float32))
  context = _context()
  tf.function(lambda: strategy.run(lambda: context.assign([variable], [tf.ones([2]) * 4.0])))()
  for copy in strategy.experimental_local_results(variable.value):
    np.testing.assert_array_equal(copy.numpy(), [4.0, 4.0])


@pytest.mark.parametrize("model", [name for name in registry.model_names() if name != "progan"])
def test_every_read_of_a_variable_still_precedes_its_update_once_grappler_optimized_the_step(
    model, tiny_config):
  # phased_test checks Progressive GAN, whose data is per-resolution TFRecords.
  unordered = reads_left_unordered(tiny_config(model))
  assert unordered == [], unordered

"""The StepContext the engine hands a family's step: the writes that must agree across
replicas, so that distribution and the non-finite guard on every update live here once."""

import keras
import tensorflow as tf

from keras_gen.families import base


def _all_finite(tensors):
  """True when no tensor (None entries ignored) holds a NaN or an infinity."""
  checks = [tf.reduce_all(tf.math.is_finite(t)) for t in tensors if t is not None]
  return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def _in_strategy_replica():
  """True inside strategy.run (a replica context of a strategy other than the default)."""
  return tf.distribute.get_replica_context() is not None and tf.distribute.has_strategy()


def _tf_variable(variable):
  # Keras 3 variables wrap the tf.Variable (a MirroredVariable under a strategy).
  return variable if isinstance(variable, tf.Variable) else getattr(variable, "value", variable)


class StepContext(base.StepContext):
  """base.StepContext with the engine's cross-replica writes."""

  def minimize(self, tape, loss, variables, optimizer):
    # Under mixed_float16 the optimizer is a LossScaleOptimizer: its loss scale, fed in as
    # the output gradient, equals scaling the loss inside the tape; its apply_gradients
    # unscales (and skips non-finite updates itself).
    scale = tf.cast(optimizer.scale_loss(tf.constant(1.0)), loss.dtype)
    gradients = tape.gradient(loss, variables, output_gradients=scale)
    self._apply_where_finite(optimizer, gradients, variables, [loss] + list(gradients))
    return gradients

  def apply_gradients(self, optimizer, gradients, variables):
    self._apply_where_finite(optimizer, gradients, variables, list(gradients))

  def _apply_where_finite(self, optimizer, gradients, variables, checked):
    """The one non-finite guard: an update is applied on every replica or on none."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
      optimizer.apply_gradients(zip(gradients, variables))
      return
    finite = _all_finite(checked)

    def apply(gradients):
      optimizer.apply_gradients(zip(gradients, variables))

    if not _in_strategy_replica() or tf.distribute.get_strategy().num_replicas_in_sync == 1:
      tf.cond(finite, lambda: apply(gradients), lambda: None)
      return

    # A cond whose branch all-reduces (apply_gradients does) must be taken in the
    # cross-replica context, with one decision for all replicas. The gradients
    # travel as merge_call arguments so each replica applies its own.
    def apply_where_all_finite(strategy, finite_per_replica, gradients_per_replica):
      every_replica_finite = tf.reduce_all(
          tf.stack(strategy.experimental_local_results(finite_per_replica)))
      tf.cond(every_replica_finite,
              lambda: strategy.extended.call_for_each_replica(
                  apply, args=(gradients_per_replica,)),
              lambda: None)

    tf.distribute.get_replica_context().merge_call(
        apply_where_all_finite, args=(finite, list(gradients)))

  def assign(self, variables, values):
    # The values are the same on every replica (computed from mirrored variables): each
    # replica's copy is updated with its own value through merge_call.
    if not _in_strategy_replica():
      for variable, value in zip(variables, values):
        variable.assign(value)
      return

    def update(strategy, values):
      for variable, value in zip(variables, values):
        strategy.extended.update(_tf_variable(variable), lambda v, x: v.assign(x),
                                 args=(value,), group=False)

    tf.distribute.get_replica_context().merge_call(update, args=(list(values),))

  def all_reduce_sum(self, values):
    if not _in_strategy_replica():
      return values
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, values)

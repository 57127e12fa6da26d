"""What the engine puts around a family's step: the StepContext of cross-replica writes, and the
StepTransaction that applies all of a step's writes or none."""

import tensorflow as tf

from keras_gen.families import base


def _all_finite(tensors):
  checks = [tf.reduce_all(tf.math.is_finite(t)) for t in tensors if t is not None]
  return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def _in_strategy_replica():
  return tf.distribute.get_replica_context() is not None and tf.distribute.has_strategy()


def _tf_variable(variable):
  # Keras 3 variables wrap the tf.Variable (a MirroredVariable under a strategy).
  return variable if isinstance(variable, tf.Variable) else getattr(variable, "value", variable)


class StepContext(base.StepContext):
  """base.StepContext with the engine's cross-replica writes."""

  def minimize(self, tape, loss, variables, optimizer):
    # Under mixed_float16, a LossScaleOptimizer's scale as the output gradient scales the
    # loss; its apply_gradients unscales.
    scale = tf.cast(optimizer.scale_loss(tf.constant(1.0)), loss.dtype)
    gradients = tape.gradient(loss, variables, output_gradients=scale)
    optimizer.apply_gradients(zip(gradients, variables))
    return gradients

  def assign(self, variables, values):
    # The values agree across replicas; each copy gets its replica's through merge_call.
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


class StepTransaction:
  """A step all-or-nothing: `begin` snapshots what the step may write, `end` restores it unless
  everything is finite (roll_back=False only reports); docs/training.md, "Non-finite steps"."""

  def __init__(self, strategy, variables, roll_back=True):
    unique = {id(variable): variable for variable in map(_tf_variable, variables)}
    self._copies = [copy for variable in unique.values()
                    for copy in strategy.experimental_local_results(variable)]
    self._roll_back = roll_back

  def begin(self):
    """The values to restore (None without roll_back); call before the step."""
    return [copy.read_value() for copy in self._copies] if self._roll_back else None

  def end(self, saved, losses):
    """A bool tensor, True when the losses and writes are finite; else `saved` is restored."""
    written = [copy for copy in self._copies if copy.dtype.is_floating]
    finite = tf.logical_and(_all_finite(losses), _all_finite(written))
    if self._roll_back:
      def restore():
        for copy, value in zip(self._copies, saved):
          copy.assign(value)
      tf.cond(finite, lambda: None, restore)
    return finite

"""What the engine puts around a family's step: the StepContext it hands the step (the
writes that must agree across replicas, so that distribution lives here once) and the
StepTransaction that applies all of a step's writes or none (the non-finite guard)."""

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
  """base.StepContext with the engine's cross-replica writes; the non-finite guard is the
  `StepTransaction` around the whole step."""

  def minimize(self, tape, loss, variables, optimizer):
    # Under mixed_float16 the optimizer is a LossScaleOptimizer: its loss scale, fed in as
    # the output gradient, equals scaling the loss inside the tape; its apply_gradients
    # unscales (and skips non-finite updates itself, lowering the scale).
    scale = tf.cast(optimizer.scale_loss(tf.constant(1.0)), loss.dtype)
    gradients = tape.gradient(loss, variables, output_gradients=scale)
    optimizer.apply_gradients(zip(gradients, variables))
    return gradients

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


class StepTransaction:
  """Makes a step all-or-nothing: `begin` snapshots every variable the step may write, `end`
  restores them unless the losses and every written value are finite (with roll_back=False it
  only reports the verdict). Why it works this way: docs/training.md, "Non-finite steps".
  """

  def __init__(self, strategy, variables, roll_back=True):
    unique = {id(variable): variable for variable in map(_tf_variable, variables)}
    # Each replica's copy of a mirrored variable, so that every copy is checked and restored.
    self._copies = [copy for variable in unique.values()
                    for copy in strategy.experimental_local_results(variable)]
    self._roll_back = roll_back

  def begin(self):
    """Returns the values to restore (None without roll_back); call before the step."""
    return [copy.read_value() for copy in self._copies] if self._roll_back else None

  def end(self, saved, losses):
    """Returns a bool tensor, True when the step's losses and writes are all finite; when
    not, restores `saved`, the values `begin` returned."""
    written = [copy for copy in self._copies if copy.dtype.is_floating]
    finite = tf.logical_and(_all_finite(losses), _all_finite(written))
    if self._roll_back:
      def restore():
        for copy, value in zip(self._copies, saved):
          copy.assign(value)
      tf.cond(finite, lambda: None, restore)
    return finite

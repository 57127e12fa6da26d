"""The fixed interface between the engine and a model family.

A family is one module that defines:

  KIND: "generator" (images from a latent), "points" (2-D samples from a latent)
      or "autoencoder" (encode / decode images).
  DEFAULT_HPARAMS: dict of every hyperparameter the family reads, with defaults.
  build(hparams, element_shape) -> dict[str, keras.Model]
      Creates the networks and calls each on a tensor so its variables exist.
      The engine calls it inside `strategy.scope()`.
  optimizers(hparams, networks) -> dict[str, keras.optimizers.Optimizer]
      Built (`optimizer.build(variables)`), also inside the scope, so that a
      checkpoint can restore their slots before the first step.
  train_step(networks, optimizers, batch, context, hparams) -> dict[str, tf.Tensor]
      One per-replica update written with tf.GradientTape: pure TensorFlow, no
      strategy calls. Losses are averaged with `context.average`, so gradients
      summed over replicas equal those of one device on the global batch.
      Returns scalar losses (already divided by the global batch; the engine
      sums them over replicas).
  summaries(networks, batch, context, hparams) -> dict[str, tf.Tensor]
      Images in [-1, 1], [N, H, W, C], to log (samples, reconstructions). `batch`
      is a fixed batch of held-out examples.
  serving(networks, hparams) -> GeneratorServing | AutoencoderServing
      The functions `keras_gen.serving` wraps into SavedModel signatures.

and, optionally:

  DATA_KINDS: the source kinds it trains on, ("images",) or ("points",).
  validate_hparams(hparams): raises ValueError naming a bad value.
  minibatches_per_step(hparams) -> int: how many global minibatches of
      --batch_size one step consumes (k discriminator steps take k); default 1.
  phases(hparams, element_shape) -> list[keras_gen.engine.phased.Phase]:
      makes the run phased (Progressive GAN): each phase trains on one level of a
      `progan:PATH` dataset (images 2^level square) for kimg thousand images,
      with its own batch size and learning rates, alpha ramping 0 -> 1 in a
      transition phase. `build` must then also return a `phased.PhaseState`
      under "phase"; the step reads alpha from `networks["phase"].alpha` (a
      variable, so alpha changes never retrace) and the level from the batch's
      shape. --batch_size is unused; the run ends with the schedule or at
      --train_steps. See `keras_gen.engine.phased`.

The engine never learns which family it runs.
"""

import dataclasses
from typing import Callable

import keras
import tensorflow as tf


@dataclasses.dataclass
class StepContext:
  """What a per-replica step may know besides its batch.

  Randomness is stateless: every draw is a function of (seed, step, salt), so a
  resumed run draws exactly what an uninterrupted one would, and no generator
  state has to be checkpointed. Each draw is made for the global batch and
  sliced to this replica's rows, so one step gives the same numbers on one
  device and on N replicas.
  """
  step: tf.Tensor  # int64 scalar: the number of updates done before this one.
  seed: int
  global_batch_size: int

  def _seed(self, salt):
    base = tf.random.experimental.stateless_fold_in(
        tf.constant([self.seed, 0], tf.int64), tf.cast(self.step, tf.int64))
    return tf.random.experimental.stateless_fold_in(base, salt)

  def _replica_rows(self, global_values, per_replica_batch):
    replica_context = tf.distribute.get_replica_context()
    if replica_context is None:  # Cross-replica code, e.g. summaries: no slicing.
      return global_values[:per_replica_batch]
    replica_id = replica_context.replica_id_in_sync_group
    start = tf.cast(replica_id, tf.int32) * per_replica_batch
    return global_values[start:start + per_replica_batch]

  def normal(self, shape, salt, dtype=tf.float32):
    """N(0, 1) of `shape` ([per-replica batch, ...]) for this replica."""
    global_shape = [self.global_batch_size] + list(shape[1:])
    values = tf.random.stateless_normal(global_shape, self._seed(salt), dtype=dtype)
    return self._replica_rows(values, shape[0])

  def uniform(self, shape, salt, minval=0.0, maxval=1.0, dtype=tf.float32):
    """U(minval, maxval) of `shape` ([per-replica batch, ...]) for this replica."""
    global_shape = [self.global_batch_size] + list(shape[1:])
    values = tf.random.stateless_uniform(
        global_shape, self._seed(salt), minval=minval, maxval=maxval, dtype=dtype)
    return self._replica_rows(values, shape[0])

  def average(self, per_example_loss):
    """Sum over this replica's examples divided by the global batch size."""
    return tf.nn.compute_average_loss(
        tf.cast(per_example_loss, tf.float32), global_batch_size=self.global_batch_size)


@dataclasses.dataclass
class GeneratorServing:
  """A latent-to-output generator: `generate(z)` returns images in [-1, 1] or points."""
  generate: Callable[[tf.Tensor], tf.Tensor]
  latent_dim: int


@dataclasses.dataclass
class AutoencoderServing:
  """`encode(images in [-1, 1]) -> code` and `decode(code) -> images in [-1, 1]`."""
  encode: Callable[[tf.Tensor], tf.Tensor]
  decode: Callable[[tf.Tensor], tf.Tensor]
  code_shape: tuple
  # Optional: a generator from the prior (the VAE), exported as `sample`.
  generate: Callable[[tf.Tensor], tf.Tensor] | None = None
  latent_dim: int = 0


def check_choice(hparams, name, choices):
  """Raises ValueError naming hparams[name] and the valid choices when it is not one of them."""
  if hparams[name] not in choices:
    raise ValueError(f"{name}={hparams[name]!r} is not one of {', '.join(choices)}.")


def all_finite(tensors):
  """True when no tensor (None entries ignored) holds a NaN or an infinity."""
  checks = [tf.reduce_all(tf.math.is_finite(t)) for t in tensors if t is not None]
  return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def minimize(tape, loss, variables, optimizer):
  """Differentiates `loss` (recorded by `tape`) and applies one optimizer update.

  An update whose loss or gradients hold a NaN or an infinity on any replica is
  skipped on every replica, so one bad batch cannot poison the weights; the
  engine sees the non-finite loss and logs the step.

  Under mixed_float16 the optimizer is a LossScaleOptimizer; its loss scale is
  fed in as the output gradient, which equals scaling the loss inside the tape,
  and its apply_gradients unscales (and skips non-finite updates itself).
  """
  scale = tf.cast(optimizer.scale_loss(tf.constant(1.0)), loss.dtype)
  gradients = tape.gradient(loss, variables, output_gradients=scale)
  if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
    optimizer.apply_gradients(zip(gradients, variables))
    return gradients
  finite = all_finite([loss] + list(gradients))

  def apply(gradients):
    optimizer.apply_gradients(zip(gradients, variables))

  replica_context = tf.distribute.get_replica_context()
  if replica_context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
    tf.cond(finite, lambda: apply(gradients), lambda: None)
    return gradients

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

  replica_context.merge_call(apply_where_all_finite, args=(finite, list(gradients)))
  return gradients

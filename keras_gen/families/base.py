"""The fixed interface between the engine and a model family.

A family is one module; `Family.from_module` reads it into the `Family` below,
which is what `keras_gen.registry.get_family` returns and the engine uses. The
module defines:

  KIND: "generator" (images from a latent), "points" (2-D samples from a latent)
      or "autoencoder" (encode / decode images).
  DEFAULT_HPARAMS: dict of every hyperparameter the family reads, with defaults.
  build(hparams, element_shape) -> dict[str, keras.Model]
      Creates the networks and calls each on a tensor so its variables exist.
      The engine calls it inside `strategy.scope()`.
  optimizers(hparams, networks) -> dict[str, (keras.optimizers.Optimizer, variables)]
      Unbuilt optimizers, each with the variables it updates; the engine wraps
      them for mixed precision and builds them inside the scope, so that a
      checkpoint can restore their slots before the first step.
  train_step(networks, optimizers, batch, context, hparams) -> dict[str, tf.Tensor]
      One per-replica update written with tf.GradientTape as for one device:
      every cross-replica effect goes through the `StepContext` (updates with
      `context.minimize`, writes to shared variables with `context.assign`,
      sums over replicas with `context.all_reduce_sum`). Losses are averaged
      with `context.average`, so gradients summed over replicas equal those of
      one device on the global batch. Returns scalar losses (already divided by
      the global batch; the engine sums them over replicas).
  summaries(networks, batch, context, hparams) -> dict[str, tf.Tensor]
      Images in [-1, 1], [N, H, W, C], to log (samples, reconstructions). `batch`
      is a fixed batch of held-out examples.
  serving(networks, hparams) -> GeneratorServing | AutoencoderServing
      The functions `keras_gen.serving` wraps into SavedModel signatures.

and, optionally (the defaults in brackets):

  DATA_KINDS: the source kinds it trains on, ("images",) or ("images", "points").
      [("images",)]
  validate_hparams(hparams): raises ValueError naming a bad value. [accepts all]
  minibatches_per_step(hparams) -> int: how many global minibatches of
      --batch_size one step consumes (k discriminator steps take k). [1]
  make_state() -> tf.Module | None: state beyond networks and optimizers that
      training writes and checkpoints hold (made in the strategy's scope). The
      engine iterates over its `named_variables()` (its `name` is its checkpoint
      key) without knowing what they are; the step reads it as
      `context.family_state`, and `serving` and `features` take it as a third
      argument. [None]
  make_schedule(config, replicas) -> a schedule of segments, as
      `keras_gen.engine.segments.PlainSchedule`, reading the family state it is
      given with `bind`. [None: one segment of --train_steps steps]
  resolutions(hparams, element_shape) -> [(image side, global batch size)]: the
      sizes a growing model trains at, for the memory estimate. [None: one size]
  config_at(config, family_state) -> the config that describes the networks as
      the state leaves them (for exports and metrics). [config]
  features(networks, hparams) -> (function of images [N, H, W, C] in [-1, 1]
      -> float [N, F], description), or None: the features a linear probe
      reads. [an autoencoder's code; None for the others]

The engine never learns which family it runs.
"""

import dataclasses
import types
from typing import Callable

import tensorflow as tf

KINDS = ("generator", "points", "autoencoder")


@dataclasses.dataclass
class StepContext:
  """What a per-replica step may know and do besides its batch.

  Randomness is stateless: every draw is a function of (seed, step, salt), so a
  resumed run draws exactly what an uninterrupted one would, and no generator
  state has to be checkpointed. Each draw is made for the global batch and
  sliced to this replica's rows, so one step gives the same numbers on one
  device and on N replicas.

  The writes a step makes across replicas (`minimize`, `assign`,
  `all_reduce_sum`) are implemented by the engine
  (`keras_gen.engine.step_context`), which hands the step a subclass.
  """
  step: tf.Tensor  # int64 scalar: the number of updates done before this one.
  seed: int
  global_batch_size: int
  family_state: object = None  # The family's `make_state()`, else None.

  def _seed(self, salt):
    base = tf.random.experimental.stateless_fold_in(
        tf.constant([self.seed, 0], tf.int64), tf.cast(self.step, tf.int64))
    return tf.random.experimental.stateless_fold_in(base, salt)

  def _draw(self, draw, shape, salt, **kwargs):
    """This replica's rows of draw(global shape, seed, **kwargs), drawn for the global batch."""
    values = draw([self.global_batch_size] + list(shape[1:]), self._seed(salt), **kwargs)
    replica_context = tf.distribute.get_replica_context()
    if replica_context is None:  # Cross-replica code, e.g. summaries: no slicing.
      return values[:shape[0]]
    start = tf.cast(replica_context.replica_id_in_sync_group, tf.int32) * shape[0]
    return values[start:start + shape[0]]

  def normal(self, shape, salt, dtype=tf.float32):
    """N(0, 1) of `shape` ([per-replica batch, ...]) for this replica."""
    return self._draw(tf.random.stateless_normal, shape, salt, dtype=dtype)

  def uniform(self, shape, salt, minval=0.0, maxval=1.0, dtype=tf.float32):
    """U(minval, maxval) of `shape` ([per-replica batch, ...]) for this replica."""
    return self._draw(tf.random.stateless_uniform, shape, salt, minval=minval, maxval=maxval,
                      dtype=dtype)

  def average(self, per_example_loss):
    """Sum over this replica's examples divided by the global batch size."""
    return tf.nn.compute_average_loss(
        tf.cast(per_example_loss, tf.float32), global_batch_size=self.global_batch_size)

  def minimize(self, tape, loss, variables, optimizer):
    """One update from `loss` (recorded by `tape`); returns the gradients. (The engine undoes
    the whole step, on every replica, if a loss or anything it wrote is not finite.)"""
    raise NotImplementedError("The engine's StepContext applies updates.")

  def assign(self, variables, values):
    """Sets each (possibly mirrored) variable to its value, the same on every replica."""
    raise NotImplementedError("The engine's StepContext assigns shared variables.")

  def all_reduce_sum(self, values):
    """A list of tensors summed over the replicas (the tensors themselves on one)."""
    raise NotImplementedError("The engine's StepContext reduces across replicas.")


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


def _code_features(serving):
  """The default `features` of an autoencoder: its code (the VAE's posterior mean), flattened."""

  def features(networks, hparams):
    encode = serving(networks, hparams).encode
    return (lambda images: tf.reshape(encode(images), [tf.shape(images)[0], -1]),
            "the encoder's code (the VAE's posterior mean)")

  return features


def _ignoring_state(function):
  """`function(networks, hparams)` called as a stateful family's hook is, with its state."""
  return lambda networks, hparams, family_state=None: function(networks, hparams)


@dataclasses.dataclass(frozen=True)
class Family:
  """A family module's interface with every optional hook filled in (see the module docstring).

  `serving` and `features` take (networks, hparams, family_state=None) whatever the
  module's own arity: only a family with a `make_state` reads it.
  """
  name: str
  KIND: str
  DEFAULT_HPARAMS: dict
  build: Callable
  optimizers: Callable
  train_step: Callable
  summaries: Callable
  serving: Callable
  DATA_KINDS: tuple = ("images",)
  validate_hparams: Callable = lambda hparams: None
  minibatches_per_step: Callable = lambda hparams: 1
  make_state: Callable = lambda: None
  make_schedule: Callable | None = None
  resolutions: Callable | None = None
  config_at: Callable = lambda config, family_state: config
  features: Callable = lambda networks, hparams, family_state=None: None

  @classmethod
  def from_module(cls, module: types.ModuleType) -> "Family":
    """Reads a family module; raises TypeError naming a missing or misshapen hook."""
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    if missing:
      raise TypeError(f"Family module {module.__name__} lacks {', '.join(missing)}.")
    values = {name: getattr(module, name) for name in REQUIRED + OPTIONAL
              if getattr(module, name, None) is not None}
    if values["KIND"] not in KINDS:
      raise TypeError(f"Family module {module.__name__} has KIND {values['KIND']!r}, not one "
                      f"of {', '.join(KINDS)}.")
    stateful = "make_state" in values
    if "features" not in values and values["KIND"] == "autoencoder":
      values["features"] = _code_features(values["serving"])
    for name in ("serving", "features"):
      if name in values and not stateful:
        values[name] = _ignoring_state(values[name])
    return cls(name=module.__name__, **values)


_FIELDS = dataclasses.fields(Family)[1:]  # After `name`, which the module's own name fills.
REQUIRED = tuple(f.name for f in _FIELDS if f.default is dataclasses.MISSING)
OPTIONAL = tuple(f.name for f in _FIELDS if f.default is not dataclasses.MISSING)

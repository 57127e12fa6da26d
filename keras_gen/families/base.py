"""The fixed interface between the engine and a model family, which never learns which it runs.

A family module, read by `Family.from_module`, defines [optional ones: default]:
  KIND: "generator" (images from a latent), "points" (2-D samples) or "autoencoder".
  DEFAULT_HPARAMS: every hyperparameter the family reads, with its default.
  build(hparams, element_shape) -> {name: keras.Model} with variables, in the strategy scope.
  optimizers(hparams, networks) -> {name: (unbuilt keras optimizer, variables it updates)}.
  train_step(networks, optimizers, batch, context, hparams) -> {name: scalar loss}: one
      per-replica update written for one device; cross-replica effects go through the
      `StepContext` and losses are `context.average`d (the engine sums them over replicas).
  summaries(networks, batch, context, hparams) -> {name: images [N, H, W, C] in [-1, 1]}.
  serving(networks, hparams) -> GeneratorServing | AutoencoderServing.
  DATA_KINDS: source kinds it trains on. [("images",)]
  validate_hparams(hparams): raises ValueError naming a bad value. [accepts all]
  minibatches_per_step(hparams) -> global minibatches one step consumes. [1]
  make_state() -> tf.Module whose `named_variables()` training writes and checkpoints hold;
      the step reads it as `context.family_state`, serving and features as a third argument.
  make_schedule(config, replicas) -> segments, as `keras_gen.engine.segments.PlainSchedule`,
      given the state by `bind`. [None: one segment of --train_steps]
  resolutions(hparams, element_shape) -> [(image side, global batch)]. [None: one size]
  config_at(config, family_state) -> the config of the networks the state leaves. [config]
  features(networks, hparams) -> (images in [-1, 1] -> float [N, F], description) or None,
      for a linear probe. [an autoencoder's code; else None]
"""

import dataclasses
import types
from typing import Callable

import tensorflow as tf

KINDS = ("generator", "points", "autoencoder")


@dataclasses.dataclass
class StepContext:
  """What a per-replica step may know and do besides its batch: draws f(seed, step, salt) for
  the global batch, sliced to this replica; the engine's subclass implements the writes."""
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
    """One update from `loss` (recorded by `tape`); returns the gradients."""
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
  if hparams[name] not in choices:
    raise ValueError(f"{name}={hparams[name]!r} is not one of {', '.join(choices)}.")


def check_values(hparams, names, is_bad, expected):
  for name in names:
    if is_bad(hparams[name]):
      raise ValueError(f"{name} must be {expected}, got {hparams[name]}.")


def _code_features(serving):
  def features(networks, hparams):
    encode = serving(networks, hparams).encode
    return (lambda images: tf.reshape(encode(images), [tf.shape(images)[0], -1]),
            "the encoder's code (the VAE's posterior mean)")

  return features


def _ignoring_state(function):
  return lambda networks, hparams, family_state=None: function(networks, hparams)


@dataclasses.dataclass(frozen=True)
class Family:
  """A family module with every optional hook filled in; `serving` and `features` always
  take (networks, hparams, family_state=None)."""
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
    if "features" not in values and values["KIND"] == "autoencoder":
      values["features"] = _code_features(values["serving"])
    for name in ("serving", "features"):
      if name in values and "make_state" not in values:
        values[name] = _ignoring_state(values[name])
    return cls(name=module.__name__, **values)


_FIELDS = dataclasses.fields(Family)[1:]  # After `name`, which the module's own name fills.
REQUIRED = tuple(f.name for f in _FIELDS if f.default is dataclasses.MISSING)
OPTIONAL = tuple(f.name for f in _FIELDS if f.default is not dataclasses.MISSING)

"""Test-only families: a zoo family whose losses turn NaN at chosen steps.

`register(monkeypatch, model, family)` adds, for one test, a model named `model`
whose family is `family` (a module of keras_gen.families) with one more
hyperparameter, nan_steps (default [0]): every loss the step averages (inside its
tapes) is multiplied by NaN when 1 + step is in nan_steps, so every update of
that step sees NaN gradients and the step reports NaN losses.
"""

import dataclasses
import sys
import types

import tensorflow as tf

from keras_gen import registry
from keras_gen.engine import step_context
from keras_gen.families import base


@dataclasses.dataclass
class _PoisonedContext(step_context.StepContext):
  nan_steps: tuple = ()

  def average(self, per_example_loss):
    poisoned = tf.reduce_any(tf.equal(self.step + 1, tf.constant(self.nan_steps, tf.int64)))
    return super().average(per_example_loss) * tf.where(poisoned, float("nan"), 1.0)


def _poisoned_context(context, hparams):
  """`context`, but every loss it averages is NaN at the steps in hparams["nan_steps"]."""
  return _PoisonedContext(**{field.name: getattr(context, field.name)
                             for field in dataclasses.fields(context)},
                          nan_steps=tuple(hparams["nan_steps"]))


def poisoned_family(family):
  """A module with `family`'s hooks whose train_step averages its losses to NaN at nan_steps."""
  module = types.ModuleType(f"nan_{family.__name__.rsplit('.', 1)[-1]}")
  for name in base.REQUIRED + base.OPTIONAL:
    if hasattr(family, name):
      setattr(module, name, getattr(family, name))
  module.DEFAULT_HPARAMS = dict(family.DEFAULT_HPARAMS, nan_steps=[0])

  def train_step(networks, optimizers, batch, context, hparams):
    return family.train_step(networks, optimizers, batch, _poisoned_context(context, hparams),
                             hparams)

  module.train_step = train_step
  return module


def register(monkeypatch, model, family, presets=None):
  """Registers `model` (for the calling test only) as `family` poisoned; returns `model`."""
  module = poisoned_family(family)
  monkeypatch.setitem(sys.modules, module.__name__, module)
  monkeypatch.setitem(registry.MODELS, model,
                      (module.__name__, dict(presets or {}), "test family whose losses turn NaN"))
  return model

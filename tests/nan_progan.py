"""A test-only family: Progressive GAN, whose losses turn NaN at chosen steps.

Registered under the name "nan_progan" by the tests that use it. Every loss
the step averages (inside its tapes) is multiplied by NaN when 1 + step is in
nan_steps, so both of its updates see NaN gradients and report NaN losses.
"""

import dataclasses

import tensorflow as tf

from keras_gen.engine import step_context
from keras_gen.families import progan

KIND = progan.KIND
DEFAULT_HPARAMS = dict(progan.DEFAULT_HPARAMS, nan_steps=[0])
validate_hparams = progan.validate_hparams
phases = progan.phases
build = progan.build
optimizers = progan.optimizers
summaries = progan.summaries
serving = progan.serving
features = progan.features


@dataclasses.dataclass
class _PoisonedContext(step_context.StepContext):
  nan_steps: tuple = ()

  def average(self, per_example_loss):
    poisoned = tf.reduce_any(tf.equal(self.step + 1, tf.constant(self.nan_steps, tf.int64)))
    return super().average(per_example_loss) * tf.where(poisoned, float("nan"), 1.0)


def poisoned(context, hparams):
  """`context`, but every loss it averages is NaN at the steps in hparams["nan_steps"]."""
  return _PoisonedContext(**{field.name: getattr(context, field.name)
                             for field in dataclasses.fields(context)},
                          nan_steps=tuple(hparams["nan_steps"]))


def train_step(networks, optimizers, batch, context, hparams):
  return progan.train_step(networks, optimizers, batch, poisoned(context, hparams), hparams)

"""Phased schedules (Progressive GAN, Karras et al. 2018): `Phase`s, the checkpointed
`PhaseState`, and the `Segment`s the engine runs.
"""

import bisect
import dataclasses
import itertools
from typing import Callable

import tensorflow as tf

SUMMARY_EXAMPLES = 64


@dataclasses.dataclass
class Segment:
  """Steps from the current one to end_step, with one input pipeline and batch size."""
  end_step: int
  global_batch_size: int    # Examples per minibatch, summed over replicas.
  examples_per_step: int    # global_batch_size times the minibatches one step takes.
  input_fn: Callable        # For strategy.distribute_datasets_from_function.
  summary_batch: object     # uint8 images or float32 points, held out, to log.
  before_step: Callable | None = None  # Runs in the step's graph before strategy.run.
  after_step: Callable | None = None   # Runs in the step's graph after it.


def reset_optimizer(optimizer):
  """Zeros an optimizer's slots and step count, not its learning rate or loss scale."""
  inner = getattr(optimizer, "inner_optimizer", optimizer)
  for variable in inner.variables:
    if variable is not inner._learning_rate:  # pylint: disable=protected-access
      variable.assign(tf.zeros_like(variable))


@dataclasses.dataclass(frozen=True)
class Phase:
  """One stretch of a phased schedule."""
  level: int                # log2 of the data resolution: 2 is 4x4.
  kimg: float               # Thousands of real images shown in this phase.
  transition: bool          # Alpha ramps from 0 to 1 across the phase; else alpha = 1.
  batch_size: int           # Global minibatch size.
  learning_rates: dict      # Optimizer name -> learning rate for this phase.
  reset_optimizers: bool = False  # Zero the optimizers' moments and step count on entry.
  # Learning rates ramp up over the run's first rampup_kimg: see `rampup_factor`.
  learning_rate_rampup_kimg: float = 0.0

  @property
  def images(self):
    return int(round(self.kimg * 1000))


class PhaseState(tf.Module):
  """The position, checkpointed as "phase": images_shown since the run began, the phase whose
  reset and learning rates are applied (-1 before the first), level (0 before) and alpha."""

  def __init__(self):
    super().__init__(name="phase")
    self.images_shown = tf.Variable(0, dtype=tf.int64, trainable=False, name="images_shown")
    self.phase = tf.Variable(-1, dtype=tf.int64, trainable=False, name="phase")
    self.level = tf.Variable(0, dtype=tf.int64, trainable=False, name="level")
    self.alpha = tf.Variable(1.0, dtype=tf.float32, trainable=False, name="alpha")

  def named_variables(self):
    """{name: variable}, in the weights digest's and the pretrained format's order."""
    return {name: getattr(self, name) for name in ("images_shown", "phase", "level", "alpha")}

  def values(self):
    """[images_shown, phase, level, alpha] as Python numbers."""
    return [v.numpy().item() for v in self.named_variables().values()]


def phase_starts(phases):
  """[start_0, ..., total] in images."""
  return list(itertools.accumulate((phase.images for phase in phases), initial=0))


def find_phase(phases, images_shown):
  """The index of the phase images_shown falls in; len(phases) once done."""
  return bisect.bisect_right(phase_starts(phases)[1:], images_shown)


def alpha_at(phase, start, images_shown):
  """Alpha for a step whose first image is images_shown, in a phase starting at start."""
  if not phase.transition:
    return 1.0
  return min(max((images_shown - start) / phase.images, 0.0), 1.0)


def rampup_factor(images_shown, rampup_kimg):
  """exp(-5 (1 - min(t, 1))^2), t = images_shown / (1000 rampup_kimg): float32 in (0, 1], the
  learning-rate ramp-up of the Theano Progressive GAN code."""
  progress = tf.cast(images_shown, tf.float32) / (1000.0 * rampup_kimg)
  return tf.exp(-5.0 * tf.square(1.0 - tf.minimum(progress, 1.0)))


def config_at_level(config, family_state):
  """`config` with element_shape [2^level, 2^level, C] at the state's level (unchanged at 0)."""
  level = 0 if family_state is None else int(family_state.level.numpy())
  if level == 0:
    return config
  size = 2 ** level
  return dataclasses.replace(config, element_shape=[size, size, config.element_shape[2]])

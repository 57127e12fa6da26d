"""A run as a schedule of segments, each with one input pipeline, batch size and set of
learning rates, and hooks run in the step's graph around it. The loop asks the schedule
for the segment at the current step (at the start, after a restore or a segment's end)
and never learns what it stands for.

  PlainSchedule   one segment: --train_steps steps of --batch_size.
  PhasedSchedule  one segment per phase of the family's `phases` (`keras_gen.schedule`),
                  on that level of a `progan:PATH` dataset, alpha (and ramped learning
                  rates) set before each step;
                  it ends with the schedule or at --train_steps, whichever comes first.
"""

import dataclasses
import math
from typing import Callable

import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import schedule
from keras_gen.data import tfrecords

SUMMARY_EXAMPLES = 64
DATASET_PREFIX = "progan:"


@dataclasses.dataclass
class Segment:
  """Steps from the current one to end_step."""
  end_step: int
  global_batch_size: int    # Examples per minibatch, summed over replicas.
  examples_per_step: int    # global_batch_size times the minibatches one step takes.
  input_fn: Callable        # For strategy.distribute_datasets_from_function.
  summary_batch: object     # uint8 images or float32 points, held out, to log.
  before_step: Callable | None = None  # Runs in the step's graph before strategy.run.
  after_step: Callable | None = None   # Runs in the step's graph after it.


def load_sources(config, family):
  """Loads the training split and a fixed batch (held out where there is one) to log."""
  source = data.load(config.dataset, "train", config.data_dir or None,
                     config.resolution or None, config.seed)
  if source.kind not in family.DATA_KINDS:
    raise config_lib.ConfigError(
        f"--model={config.model} trains on {' or '.join(family.DATA_KINDS)}, but "
        f"--dataset={config.dataset} holds {source.kind}.")
  try:
    held_out = data.load(config.dataset, "test", config.data_dir or None,
                         config.resolution or None, config.seed)
  except data.DataError:
    held_out = source
  return source, held_out.examples[:SUMMARY_EXAMPLES]


class PlainSchedule:
  """One segment of --train_steps steps over the dataset's training split."""

  phase = None  # No position beyond the step.

  def __init__(self, config, family, replicas):
    if config.batch_size % replicas:
      raise config_lib.ConfigError(
          f"--batch_size={config.batch_size} is not divisible by the {replicas} replicas "
          f"in sync.")
    self.config, self.family = config, family
    self.source, self.summary_batch = load_sources(config, family)
    self.element_shape = tuple(self.source.element_shape)

  def make_state(self):
    """The state beyond networks, optimizers and step the checkpoint holds: none."""

  def segment(self, step, optimizers):
    """The segment that runs from `step`, or None once the run is done."""
    del optimizers
    config = self.config
    if step >= config.train_steps:
      return None
    minibatches = self.family.minibatches_per_step(config.hparams)
    examples = config.batch_size * minibatches
    return Segment(end_step=config.train_steps, global_batch_size=config.batch_size,
                   examples_per_step=examples, summary_batch=self.summary_batch,
                   input_fn=data.input_fn(self.source, examples, config.seed, step,
                                          minibatches=minibatches))

  def total_steps(self, step):
    del step
    return self.config.train_steps

  def position(self):
    """Progress-line text and TensorBoard scalars of the position beyond the step."""
    return "", {}

  def config_now(self, config):
    """The config that describes the networks as they are now (for exports and metrics)."""
    return config

  def finish(self, result):
    """Adds the position to a finished run's result."""

  def data_error(self, error):
    """A DataError for a truncated or corrupt record the schedule can name, else None."""


class PhasedSchedule:
  """A family's phases, each one segment; the position is `self.phase`, a PhaseState."""

  def __init__(self, config, family, replicas):
    if not config.dataset.startswith(DATASET_PREFIX):
      raise config_lib.ConfigError(
          f"--model={config.model} trains in phases of growing resolution, which needs a "
          f"multi-resolution dataset --dataset=progan:FOLDER (create one with "
          f"`python -m tools.dataset_tool`), not {config.dataset!r}.")
    self.config, self.family = config, family
    self.path = config.dataset[len(DATASET_PREFIX):]
    description = tfrecords.info(self.path)
    resolution = description["resolution"]
    self.element_shape = (resolution, resolution, description["channels"])
    try:
      self.phases = family.phases(config.hparams, self.element_shape)
    except ValueError as e:
      raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
    if not self.phases:
      raise config_lib.ConfigError(f"Model {config.model!r} has an empty phase schedule.")
    for phase in self.phases:
      side, levels = f"{2 ** phase.level}x{2 ** phase.level}", description["levels"]
      if phase.level not in levels:
        raise config_lib.ConfigError(f"The schedule trains at {side}, but --dataset="
                                     f"{config.dataset} has levels {sorted(levels)}.")
      if phase.batch_size % replicas:
        raise config_lib.ConfigError(
            f"The schedule's batch size {phase.batch_size} at {side} is not divisible by the "
            f"{replicas} replicas in sync.")
    self.starts = schedule.phase_starts(self.phases)
    self.phase = None  # Made by `make_state`, inside the strategy's scope.
    self._top_level = description["top_level"]
    self._summary_levels = None

  def make_state(self):
    self.phase = schedule.PhaseState()
    return self.phase

  def _summary_batch(self, level):
    if self._summary_levels is None:
      images, _ = tfrecords.read_level(self.path, self._top_level, limit=SUMMARY_EXAMPLES)
      self._summary_levels = tfrecords.box_filter_levels(images)
    return self._summary_levels[level]

  def segment(self, step, optimizers):
    """Enters the phase the images shown fall in and returns its segment (None at the end)."""
    state, config = self.phase, self.config
    shown = int(state.images_shown.numpy())
    index = schedule.find_phase(self.phases, shown)
    if index == len(self.phases) or step >= config.train_steps:
      return None
    phase, start, end = self.phases[index], self.starts[index], self.starts[index + 1]
    self._enter(index, optimizers, shown)
    examples = phase.batch_size * self.family.minibatches_per_step(config.hparams)

    ramping = start < 1000 * phase.learning_rate_rampup_kimg

    def set_alpha_and_learning_rates():
      if phase.transition:
        shown_in_phase = tf.cast(state.images_shown - start, tf.float32)
        state.alpha.assign(tf.clip_by_value(shown_in_phase / phase.images, 0.0, 1.0))
      if ramping:
        factor = schedule.rampup_factor(state.images_shown, phase.learning_rate_rampup_kimg)
        for name, learning_rate in phase.learning_rates.items():
          optimizers[name].learning_rate = learning_rate * factor

    return Segment(
        end_step=min(config.train_steps, step + math.ceil((end - shown) / examples)),
        global_batch_size=phase.batch_size, examples_per_step=examples,
        summary_batch=self._summary_batch(phase.level),
        before_step=set_alpha_and_learning_rates,
        after_step=lambda: state.images_shown.assign_add(examples),
        input_fn=tfrecords.input_fn(self.path, phase.level, phase.batch_size, config.seed,
                                    start_index=shown - start))

  def _enter(self, index, optimizers, shown):
    """Applies phase `index`'s level, alpha, learning rates and (once) its optimizer reset."""
    state, phase = self.phase, self.phases[index]
    state.level.assign(phase.level)
    state.alpha.assign(schedule.alpha_at(phase, self.starts[index], shown))
    for name, learning_rate in phase.learning_rates.items():
      optimizers[name].learning_rate = learning_rate
    if int(state.phase.numpy()) != index:
      if phase.reset_optimizers and index > 0:
        for optimizer in optimizers.values():
          reset_optimizer(optimizer)
      state.phase.assign(index)

  def total_steps(self, step):
    """The step the run ends at: the schedule's end at its batch sizes, or --train_steps."""
    shown = int(self.phase.images_shown.numpy())
    for index in range(schedule.find_phase(self.phases, shown), len(self.phases)):
      examples = (self.phases[index].batch_size
                  * self.family.minibatches_per_step(self.config.hparams))
      steps = math.ceil((self.starts[index + 1] - shown) / examples)
      step, shown = step + steps, shown + steps * examples
    return min(step, self.config.train_steps)

  def position(self):
    shown, level = int(self.phase.images_shown.numpy()), int(self.phase.level.numpy())
    alpha = float(self.phase.alpha.numpy())
    text = (f"kimg {shown / 1000:.1f}/{self.starts[-1] / 1000:.1f}  "
            f"{2 ** level}x{2 ** level} alpha {alpha:.3f}")
    return text, {"progress/kimg": shown / 1000, "progress/alpha": alpha,
                  "progress/level": level}

  def config_now(self, config):
    return schedule.config_at_level(config, self.phase)

  def finish(self, result):
    images_shown, _, level, alpha = self.phase.values()
    if images_shown < self.starts[-1]:
      print(f"Stopped at --train_steps={self.config.train_steps}, {images_shown / 1000:.1f} "
            f"of {self.starts[-1] / 1000:.1f} kimg; rerun with a larger --train_steps to "
            f"continue.", flush=True)
    result.update(images_shown=images_shown, level=level, alpha=alpha)

  def data_error(self, error):
    if not isinstance(error, tf.errors.DataLossError) and "record" not in error.message.lower():
      return None
    return tfrecords.level_error(
        self.path, int(self.phase.level.numpy()), error,
        advice="checkpoints before this step are intact, recreate the dataset with "
        "tools/dataset_tool.py")


def make_schedule(config, family, replicas):
  """The family's schedule: phased if it has phases, else one plain segment."""
  if family.phases is not None:
    return PhasedSchedule(config, family, replicas)
  return PlainSchedule(config, family, replicas)


def reset_optimizer(optimizer):
  """Zeros an optimizer's slots and step count; the learning rate and loss scale stay."""
  inner = getattr(optimizer, "inner_optimizer", optimizer)
  for variable in inner.variables:
    if variable is not inner._learning_rate:  # pylint: disable=protected-access
      variable.assign(tf.zeros_like(variable))

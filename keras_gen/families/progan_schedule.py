"""Progressive GAN's phases as segments of the training loop, each on one level of a
`progan:PATH` dataset, with alpha and ramped learning rates set before each step."""

import math

import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import schedule
from keras_gen.data import tfrecords

DATASET_PREFIX = "progan:"


class PhasedSchedule:
  """A family's phases, each one segment; the position is `self.phase`, a PhaseState."""

  def __init__(self, config, phases, replicas):
    if not config.dataset.startswith(DATASET_PREFIX):
      raise config_lib.ConfigError(
          f"--model={config.model} trains in phases of growing resolution, which needs a "
          f"multi-resolution dataset --dataset=progan:FOLDER (create one with "
          f"`python -m tools.dataset_tool`), not {config.dataset!r}.")
    self.config = config
    self.path = config.dataset[len(DATASET_PREFIX):]
    description = tfrecords.info(self.path)
    resolution = description["resolution"]
    self.element_shape = (resolution, resolution, description["channels"])
    try:
      self.phases = phases(config.hparams, self.element_shape)
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
    self.phase = None  # The family's PhaseState, given by `bind`.
    self._top_level = description["top_level"]
    self._summary_levels = None

  def bind(self, family_state):
    self.phase = family_state

  def _summary_batch(self, level):
    if self._summary_levels is None:
      images, _ = tfrecords.read_level(self.path, self._top_level,
                                        limit=schedule.SUMMARY_EXAMPLES)
      self._summary_levels = tfrecords.box_filter_levels(images)
    return self._summary_levels[level]

  def segment(self, step, optimizers):
    """Enters the phase of the images shown and returns its segment (None at the end)."""
    state, config = self.phase, self.config
    shown = int(state.images_shown.numpy())
    index = schedule.find_phase(self.phases, shown)
    if index == len(self.phases) or step >= config.train_steps:
      return None
    phase, start, end = self.phases[index], self.starts[index], self.starts[index + 1]
    self._enter(index, optimizers, shown)

    def set_alpha_and_learning_rates():
      if phase.transition:
        shown_in_phase = tf.cast(state.images_shown - start, tf.float32)
        state.alpha.assign(tf.clip_by_value(shown_in_phase / phase.images, 0.0, 1.0))
      if start < 1000 * phase.learning_rate_rampup_kimg:  # Begins before the ramp-up ends.
        factor = schedule.rampup_factor(state.images_shown, phase.learning_rate_rampup_kimg)
        for name, learning_rate in phase.learning_rates.items():
          optimizers[name].learning_rate = learning_rate * factor

    return schedule.Segment(
        end_step=min(config.train_steps, step + math.ceil((end - shown) / phase.batch_size)),
        global_batch_size=phase.batch_size, examples_per_step=phase.batch_size,
        summary_batch=self._summary_batch(phase.level),
        before_step=set_alpha_and_learning_rates,
        after_step=lambda: state.images_shown.assign_add(phase.batch_size),
        input_fn=tfrecords.input_fn(self.path, phase.level, phase.batch_size, config.seed,
                                    start_index=shown - start))

  def _enter(self, index, optimizers, shown):
    """Applies phase `index`'s level, alpha, learning rates and, once, optimizer reset."""
    state, phase = self.phase, self.phases[index]
    state.level.assign(phase.level)
    state.alpha.assign(schedule.alpha_at(phase, self.starts[index], shown))
    for name, learning_rate in phase.learning_rates.items():
      optimizers[name].learning_rate = learning_rate
    if int(state.phase.numpy()) != index:
      if phase.reset_optimizers and index > 0:
        for optimizer in optimizers.values():
          schedule.reset_optimizer(optimizer)
      state.phase.assign(index)

  def total_steps(self, step):
    """The step the schedule ends at, or --train_steps if sooner."""
    shown = int(self.phase.images_shown.numpy())
    for index in range(schedule.find_phase(self.phases, shown), len(self.phases)):
      examples = self.phases[index].batch_size
      steps = math.ceil((self.starts[index + 1] - shown) / examples)
      step, shown = step + steps, shown + steps * examples
    return min(step, self.config.train_steps)

  def position(self):
    shown, _, level, alpha = self.phase.values()
    text = (f"kimg {shown / 1000:.1f}/{self.starts[-1] / 1000:.1f}  "
            f"{2 ** level}x{2 ** level} alpha {alpha:.3f}")
    return text, {"progress/kimg": shown / 1000, "progress/alpha": alpha, "progress/level": level}

  def config_now(self, config):
    return schedule.config_at_level(config, self.phase)

  def finish(self):
    images_shown, _, level, alpha = self.phase.values()
    if images_shown < self.starts[-1]:
      print(f"Stopped at --train_steps={self.config.train_steps}, {images_shown / 1000:.1f} "
            f"of {self.starts[-1] / 1000:.1f} kimg; rerun with a larger --train_steps to "
            f"continue.", flush=True)
    return {"images_shown": images_shown, "level": level, "alpha": alpha}

  def data_error(self, error):
    if not isinstance(error, tf.errors.DataLossError) and "record" not in error.message.lower():
      return None
    return tfrecords.level_error(
        self.path, int(self.phase.level.numpy()), error,
        advice="checkpoints before this step are intact, recreate the dataset with "
        "tools/dataset_tool.py")

"""Phased training: a schedule of phases, each with its own data resolution, batch
size and learning rates, run in one process (Progressive GAN, Karras et al. 2018).

A family opts in by defining

  phases(hparams, element_shape) -> list[Phase]

and by putting a `PhaseState` network under the name "phase" in the dict
`build` returns. `loop.run` hands such a family to `run` below, which reuses
the engine's pieces (resolve, build_state, checkpoints, summaries, export and
the StepContext) and adds, around them:

  * one input pipeline and one traced step per phase: the level changes the
    shapes, so it retraces; alpha does not (it is a variable the step reads),
  * `images_shown`, `phase`, `level` and `alpha` in PhaseState's variables, so
    one checkpoint carries them and a run stopped in the middle of a transition
    resumes in that transition, on the same data and the same alpha,
  * per-phase learning rates, and optimizer state reset at a phase's start if
    the phase asks for it,
  * --metrics at every checkpoint (chief only, not on a signal stop), as the
    plain loop runs them, at the level the networks are at: real images are
    box-filtered down to it (see `keras_gen.metrics.evaluation`).

Phase i covers images [start_i, start_i + 1000 * kimg_i) of the run. A step
belongs to the phase its first image falls in; in a transition phase alpha =
(images_shown - start_i) / (1000 * kimg_i), read before the step, so it rises
linearly from 0 towards 1; elsewhere alpha = 1. The family's step sees batches
of resolution 2^level (the data are the level of a `progan:PATH` dataset) and
reads alpha from `networks["phase"].alpha`.

The run stops when the schedule ends or when the global step reaches
--train_steps, whichever comes first; rerunning with a larger --train_steps
continues the schedule.
"""

import dataclasses
import math
import os
import time

import keras
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen.data import errors as data_errors
from keras_gen.data import tfrecords
from keras_gen.engine import checkpoints
from keras_gen.engine import loop
from keras_gen.engine import strategies
from keras_gen.engine import summaries as summaries_lib
from keras_gen.families import base

PHASE_NETWORK = "phase"
DATASET_PREFIX = "progan:"


@dataclasses.dataclass(frozen=True)
class Phase:
  """One stretch of a phased schedule."""
  level: int                # log2 of the data resolution: 2 is 4x4.
  kimg: float               # Thousands of real images shown in this phase.
  transition: bool          # Alpha ramps from 0 to 1 across the phase; else alpha = 1.
  batch_size: int           # Global minibatch size.
  learning_rates: dict      # Optimizer name -> learning rate for this phase.
  reset_optimizers: bool = False  # Zero the optimizers' moments and step count on entry.

  @property
  def images(self):
    return int(round(self.kimg * 1000))


class PhaseState(keras.Model):
  """The schedule's position, as checkpointed variables.

  images_shown: int64, real images shown since the run began (kimg * 1000).
  phase: int64, the index of the phase whose state (optimizer reset, learning
    rates) has been applied; -1 before the first.
  level: int64, log2 of the resolution being trained (for export and summaries).
  alpha: float32 in [0, 1], the fade-in weight of the newest level.
  """

  def __init__(self, **kwargs):
    super().__init__(name=PHASE_NETWORK, **kwargs)
    self.images_shown = self.add_weight(name="images_shown", shape=(), dtype="int64",
                                        initializer="zeros", trainable=False)
    self.phase = self.add_weight(name="phase", shape=(), dtype="int64",
                                 initializer=keras.initializers.Constant(-1), trainable=False)
    self.level = self.add_weight(name="level", shape=(), dtype="int64",
                                 initializer="zeros", trainable=False)
    self.alpha = self.add_weight(name="alpha", shape=(), dtype="float32",
                                 initializer="ones", trainable=False)
    self.built = True

  def call(self, inputs=None):
    return self.alpha


def phase_starts(phases):
  """Image counts where each phase starts, plus the total: [start_0, ..., total]."""
  starts = [0]
  for phase in phases:
    starts.append(starts[-1] + phase.images)
  return starts


def find_phase(phases, images_shown):
  """The index of the phase that images_shown falls in; len(phases) once the schedule is done."""
  for index, end in enumerate(phase_starts(phases)[1:]):
    if images_shown < end:
      return index
  return len(phases)


def alpha_at(phase, start, images_shown):
  """Alpha for a step whose first image is images_shown, in a phase starting at start."""
  if not phase.transition:
    return 1.0
  return min(max((images_shown - start) / phase.images, 0.0), 1.0)


def config_at_level(config, networks):
  """`config` with element_shape [2^level, 2^level, C], the level networks["phase"] is at.

  Exports, snapshot metrics and restored runs describe the images G makes at
  that level, not the data's top resolution. Before the first phase (level 0)
  `config` is returned as it is.
  """
  level = int(networks[PHASE_NETWORK].level.numpy())
  if level == 0:
    return config
  size = 2 ** level
  return dataclasses.replace(config, element_shape=[size, size, config.element_shape[2]])


def _dataset_path(config):
  if not config.dataset.startswith(DATASET_PREFIX):
    raise config_lib.ConfigError(
        f"--model={config.model} trains in phases of growing resolution, which needs a "
        f"multi-resolution dataset --dataset=progan:FOLDER (create one with "
        f"`python -m tools.dataset_tool`), not {config.dataset!r}.")
  return config.dataset[len(DATASET_PREFIX):]


def _check_phases(config, phases, levels, replicas):
  if not phases:
    raise config_lib.ConfigError(f"Model {config.model!r} has an empty phase schedule.")
  for phase in phases:
    if phase.level not in levels:
      raise config_lib.ConfigError(
          f"The schedule trains at {2 ** phase.level}x{2 ** phase.level}, but --dataset="
          f"{config.dataset} has levels {sorted(levels)}.")
    if phase.batch_size % replicas:
      raise config_lib.ConfigError(
          f"The schedule's batch size {phase.batch_size} at {2 ** phase.level}x"
          f"{2 ** phase.level} is not divisible by the {replicas} replicas in sync.")


def reset_optimizer(optimizer):
  """Zeros an optimizer's slots and step count; the learning rate and loss scale stay."""
  inner = getattr(optimizer, "inner_optimizer", optimizer)
  for variable in inner.variables:
    if variable is not inner._learning_rate:  # pylint: disable=protected-access
      variable.assign(tf.zeros_like(variable))


def _make_train_function(config, family, strategy, networks, optimizers, step, phase, start):
  state = networks[PHASE_NETWORK]
  batch_size = phase.batch_size

  def replica_step(batch):
    context = base.StepContext(step=step.read_value(), seed=config.seed,
                               global_batch_size=batch_size)
    return family.train_step(networks, optimizers, batch, context, config.hparams)

  if config.xla:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def train_function(iterator):
    if phase.transition:
      shown = tf.cast(state.images_shown - start, tf.float32)
      state.alpha.assign(tf.clip_by_value(shown / phase.images, 0.0, 1.0))
    per_replica_losses = strategy.run(replica_step, args=(next(iterator),))
    losses = {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
              for name, value in per_replica_losses.items()}
    step.assign_add(1)
    state.images_shown.assign_add(batch_size * loop.minibatches_per_step(family, config.hparams))
    return losses

  return train_function


def _enter_phase(state, optimizers, phases, index, start):
  """Applies phase `index`'s level, alpha, learning rates and (once) its optimizer reset."""
  phase = phases[index]
  state.level.assign(phase.level)
  state.alpha.assign(alpha_at(phase, start, int(state.images_shown.numpy())))
  for name, learning_rate in phase.learning_rates.items():
    optimizers[name].learning_rate = learning_rate
  if int(state.phase.numpy()) != index:
    if phase.reset_optimizers and index > 0:
      for optimizer in optimizers.values():
        reset_optimizer(optimizer)
    state.phase.assign(index)


def _checked_step(train_function, iterator, path, level):
  """One step; a truncated or corrupt record names the level's files instead of a traceback."""
  try:
    return train_function(iterator)
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
    if not isinstance(error, tf.errors.DataLossError) and "record" not in error.message.lower():
      raise
    files = ", ".join(os.path.basename(name) for name in tfrecords.level_files(path)[level])
    raise data_errors.DataError(
        f"Dataset {path} level r{level:02d} ({files}) is truncated or corrupt: "
        f"{error.message.splitlines()[0]}; checkpoints before this step are intact, "
        f"recreate the dataset with tools/dataset_tool.py.") from error


def run(config, family):
  """Trains a phased family through its schedule; returns a summary dict like `loop.run`."""
  path = _dataset_path(config)
  strategy = strategies.make_strategy(config)
  description = tfrecords.info(path)
  resolution, channels = description["resolution"], description["channels"]
  element_shape = (resolution, resolution, channels)
  config.element_shape = list(element_shape)
  try:
    phases = family.phases(config.hparams, element_shape)
  except ValueError as e:
    raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
  _check_phases(config, phases, description["levels"], strategy.num_replicas_in_sync)
  with loop.precision_and_state(config, family, strategy, element_shape) as state:
    summary_images, _ = tfrecords.read_level(path, description["top_level"],
                                             limit=loop.SUMMARY_EXAMPLES)
    return _train(config, family, strategy, path, phases, summary_images, *state)


def _train(config, family, strategy, path, phases, summary_images, chief,
           networks, optimizers, step):
  state = networks[PHASE_NETWORK]
  checkpoint_dir, scratch_dir = loop._checkpoint_dir_for(strategy, config.model_dir)  # pylint: disable=protected-access
  checkpoint, manager = checkpoints.make_manager(
      checkpoint_dir, networks, optimizers, step, config.keep_checkpoints)
  restored = checkpoints.restore_latest(checkpoint, manager)
  start_step, current = int(step.numpy()), int(step.numpy())
  starts = phase_starts(phases)
  if restored:
    print(f"Resumed from {restored} at step {start_step}, "
          f"{int(state.images_shown.numpy()) / 1000:.1f} kimg.", flush=True)
  summaries = summaries_lib.Summaries(config.model_dir, enabled=chief)
  summaries.text("config", "```\n" + config.to_json() + "\n```", start_step)
  levels = tfrecords.box_filter_levels(summary_images)
  result = {"start_step": start_step, "losses": {}, "interrupted": False}
  saved_at = start_step

  with loop._StopRequest() as stop:  # pylint: disable=protected-access
    index = find_phase(phases, int(state.images_shown.numpy()))
    while index < len(phases) and current < config.train_steps:
      phase, start, end = phases[index], starts[index], starts[index + 1]
      _enter_phase(state, optimizers, phases, index, start)
      shown = int(state.images_shown.numpy())
      dataset = strategy.distribute_datasets_from_function(tfrecords.input_fn(
          path, phase.level, phase.batch_size, config.seed, start_index=shown - start))
      iterator = iter(dataset)
      train_function = _make_train_function(config, family, strategy, networks, optimizers,
                                             step, phase, start)
      summary_function = loop.make_summary_function(config, family, networks,
                                                    levels[phase.level])
      clock = (current, time.perf_counter(), True)
      while shown < end and current < config.train_steps:
        losses = _checked_step(train_function, iterator, path, phase.level)
        current += 1
        shown += phase.batch_size * loop.minibatches_per_step(family, config.hparams)
        if clock[2]:
          clock = (current, time.perf_counter(), False)  # Leave tracing out of the speed.
        last = shown >= end or current == config.train_steps
        if current % config.log_every == 0 or last:
          clock = _log(summaries, losses, optimizers, state, phase, current, shown, starts[-1],
                       clock, result)
        if current % config.summary_every == 0 or last:
          summaries.images(summary_function(), current)
        if current % config.checkpoint_every == 0 or last or stop.signal is not None:
          manager.save(checkpoint_number=current)
          saved_at = current
          if config.metrics and chief and stop.signal is None:
            loop.evaluate_snapshot(config_at_level(config, networks), family, networks,
                                   current, summaries)
            clock = (current, time.perf_counter(), False)  # Leave the metrics out of the speed.
        if stop.signal is not None:
          return loop.stopped_by_signal(summaries, stop.signal, current, result)
      index = find_phase(phases, shown)
  if saved_at != current:
    manager.save(checkpoint_number=current)
  summaries.close()
  shown = int(state.images_shown.numpy())
  if shown < starts[-1]:
    print(f"Stopped at --train_steps={config.train_steps}, {shown / 1000:.1f} of "
          f"{starts[-1] / 1000:.1f} kimg; rerun with a larger --train_steps to continue.",
          flush=True)
  result.update(images_shown=shown, level=int(state.level.numpy()),
                alpha=float(state.alpha.numpy()))
  return loop.finish(config, family, strategy, networks, chief, current, result, scratch_dir,
                     config_at_level(config, networks))


def _log(summaries, losses, optimizers, state, phase, current, shown, total, clock, result):
  """Prints one progress line and logs scalars; returns the restarted clock."""
  losses = {name: float(value) for name, value in losses.items()}
  alpha = float(state.alpha.numpy())
  now = time.perf_counter()
  steps, elapsed = current - clock[0], now - clock[1]
  images_per_sec = steps * phase.batch_size / elapsed if steps > 0 and elapsed > 0 else None
  loss_text = "  ".join(f"{name} {value:.4f}" for name, value in sorted(losses.items()))
  line = (f"step {current}  kimg {shown / 1000:.1f}/{total / 1000:.1f}  "
          f"{2 ** phase.level}x{2 ** phase.level} alpha {alpha:.3f}  {loss_text}")
  if images_per_sec:
    eta = (total - shown) / images_per_sec
    line += f"  {images_per_sec:.1f} img/s  ETA {math.ceil(eta)} s at this speed"
  print(line, flush=True)
  scalars = {f"loss/{name}": value for name, value in losses.items()}
  scalars.update({"progress/kimg": shown / 1000, "progress/alpha": alpha,
                  "progress/level": phase.level})
  scalars.update({f"learning_rate/{name}":
                  float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                  for name, optimizer in optimizers.items()})
  if images_per_sec:
    scalars["perf/images_per_sec"] = images_per_sec
  summaries.scalars(scalars, current)
  result["losses"] = losses
  return (current, now, False)

"""The training loop, the same for every model: one tf.function around
strategy.run(family.train_step) over the schedule's segments, with checkpoints, summaries,
--on_nonfinite, --metrics (a `Snapshot`), signals and the final export."""

import contextlib
import dataclasses
import functools
import math
import os
import re
import shutil
import signal
import sys
import tempfile
from typing import Protocol

import keras
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import registry
from keras_gen import serving
from keras_gen import storage
from keras_gen.engine import checkpoints
from keras_gen.engine import lock
from keras_gen.engine import memory
from keras_gen.engine import segments
from keras_gen.engine import step_context
from keras_gen.engine import strategies
from keras_gen.engine import summaries as summaries_lib


@dataclasses.dataclass
class TrainingState:
  """Everything a checkpoint holds: networks, optimizers, the step and the family's state."""
  networks: dict
  optimizers: dict
  step: tf.Variable
  family_state: object = None  # The family's `make_state()`, else None.


@dataclasses.dataclass
class RunResult:
  """What `run` returns: how far the run got and what it left."""
  start_step: int  # The step it resumed from (0 for a new run).
  chief: bool  # Whether this process wrote model_dir (the other workers do not).
  step: int | None = None  # The step reached.
  losses: dict = dataclasses.field(default_factory=dict)  # The last logged.
  interrupted: bool = False
  signal: int | None = None  # The signal that stopped it.
  nonfinite_steps: list = dataclasses.field(default_factory=list)
  weights_digest: str | None = None
  peak_memory_mb: dict = dataclasses.field(default_factory=dict)  # {stage: MB}
  export_path: str | None = None
  schedule: dict = dataclasses.field(default_factory=dict)  # What the schedule reports at the end.


class Snapshot(Protocol):
  """--metrics at checkpoints, from a layer above the engine (metrics.evaluation)."""

  def check(self, config):
    """Raises ConfigError naming a metric in config.metrics that does not exist."""

  def __call__(self, config, family, networks, family_state, step):
    """Returns ({"metric/key": value} to log, [sentences to print])."""


class NonFiniteError(RuntimeError):
  """Training produced NaN or infinite losses that restoring could not get past."""


def resolve(config, snapshot=None):
  """`config` with hyperparameters, XLA and precision resolved; ConfigError for anything the
  user got wrong, before a file is written."""
  family, presets = registry.get_family(config.model)
  config.hparams = config_lib.resolve_hparams(config.model, family.DEFAULT_HPARAMS,
                                              {**presets, **config.hparams})
  try:
    family.validate_hparams(config.hparams)
  except ValueError as e:
    raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
  config_lib.validate(config)
  config.xla, note = strategies.choose_xla(config)
  if note:
    print(note, flush=True)
  config.mixed_precision, note, is_warning = strategies.choose_precision(config)
  if note:
    print(note, file=sys.stderr if is_warning else sys.stdout, flush=True)
  if config.metrics:
    if snapshot is None:
      raise config_lib.ConfigError(
          "--metrics needs a snapshot evaluator: train with `python -m keras_gen.train`, or "
          "pass snapshot=keras_gen.metrics.evaluation.SnapshotMetrics() to loop.run.")
    snapshot.check(config)
  return config


def set_precision(config):
  keras.mixed_precision.set_global_policy(
      "float32" if config.mixed_precision == "none" else config.mixed_precision)


def build_state(config, family, strategy, element_shape):
  """Creates networks, built optimizers, the step and the family's state inside the scope."""
  with strategy.scope():
    keras.utils.set_random_seed(config.seed)
    networks = family.build(config.hparams, element_shape)
    optimizers = {}
    for name, (optimizer, variables) in family.optimizers(config.hparams, networks).items():
      if config.mixed_precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
      optimizer.build(variables)
      optimizers[name] = optimizer
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
    return TrainingState(networks, optimizers, step, family.make_state())


def step_writes(state):
  """Every variable a step may write: what the checkpoint holds, but the step counter."""
  holders = [*state.networks.values(), *state.optimizers.values(), state.family_state]
  return [v for holder in holders if holder is not None for v in holder.variables]


def make_train_function(config, family, strategy, state, global_batch_size, *, before_step=None,
                        after_step=None):
  """Returns a tf.function that runs one distributed step as a `StepTransaction` and returns
  (summed losses, whether the step was finite and so applied); a segment's hooks run in it
  before strategy.run and after the step counter advances."""
  # Grappler's dependency optimizer drops some of the step's read-before-write edges
  # (docs/training.md, "Reads before writes").
  tf.config.optimizer.set_experimental_options({"dependency_optimization": False})

  def replica_step(batch):
    context = step_context.StepContext(step=state.step.read_value(), seed=config.seed,
                                       global_batch_size=global_batch_size,
                                       family_state=state.family_state)
    return family.train_step(state.networks, state.optimizers, batch, context, config.hparams)

  if config.xla:
    replica_step = tf.function(replica_step, jit_compile=True)
  transaction = step_context.StepTransaction(strategy, step_writes(state),
                                             roll_back=config.on_nonfinite == "skip")

  @tf.function
  def train_function(iterator):
    saved = transaction.begin()
    if before_step is not None:
      before_step()
    per_replica_losses = strategy.run(replica_step, args=(next(iterator),))
    losses = {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
              for name, value in per_replica_losses.items()}
    state.step.assign_add(1)
    if after_step is not None:
      after_step()
    return losses, transaction.end(saved, list(losses.values()))

  return train_function


def make_summary_function(config, family, state, summary_batch):
  batch = ({"images": data.from_uint8(summary_batch)} if summary_batch.ndim == 4
           else {"points": tf.constant(summary_batch)})
  context = step_context.StepContext(step=tf.constant(0, tf.int64), seed=config.seed,
                                     global_batch_size=len(summary_batch),
                                     family_state=state.family_state)
  return tf.function(
      functools.partial(family.summaries, state.networks, batch, context, config.hparams))


class _Stopped(BaseException):
  """A signal (its number the one argument) during `_StopRequest.at_once`. Not an Exception, so
  that no `except Exception` on the way (TensorFlow's export has some) holds it up."""


class _StopRequest:
  """Turns SIGINT/SIGTERM into a request the loop honours after the current step, or, within
  `at_once`, into `_Stopped` there and then."""

  def __init__(self):
    self.signal = None
    self._at_once = False

  def __enter__(self):
    self._previous = {signum: signal.signal(signum, self._handle)
                      for signum in (signal.SIGINT, signal.SIGTERM)}
    return self

  def _handle(self, signum, unused_frame):
    self.signal = signum
    if self._at_once:
      raise _Stopped(signum)

  @contextlib.contextmanager
  def at_once(self):
    """Within the block a signal (or one already received) raises `_Stopped`: for work that
    can be abandoned and redone, such as the final export, whose partial folder is removed."""
    if self.signal is not None:
      raise _Stopped(self.signal)
    self._at_once = True
    try:
      yield
    finally:
      self._at_once = False

  def __exit__(self, *exc):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)


def run(config, snapshot=None):
  """Trains `config.model` on `config.dataset` to `config.train_steps`, resuming from
  model_dir's newest checkpoint; returns a RunResult. `snapshot` evaluates config.metrics."""
  config = resolve(config, snapshot)
  family, _ = registry.get_family(config.model)
  strategy = strategies.make_strategy(config)
  chief = strategies.is_chief(strategy)
  if chief:
    lock.refuse_if_held(config.model_dir)
  plan = segments.make_schedule(config, family, strategy.num_replicas_in_sync)
  config.element_shape = list(plan.element_shape)
  memory.check(config, family, plan.element_shape, strategy)  # Before a byte is allocated.
  try:
    with precision_and_state(config, family, strategy, plan, chief) as state:
      return _Trainer(config, family, strategy, plan, state, chief=chief, snapshot=snapshot).train()
  except (OSError, tf.errors.OpError) as error:
    if not storage.is_disk_full(error):
      raise
    raise storage.StorageError(
        f"No space left on device for {config.model_dir} (or its export folder); "
        f"{_what_is_intact(os.path.join(config.model_dir, 'checkpoints'))}.") from error


def _what_is_intact(checkpoint_dir):
  """What a run stopped by a full disk still has, checked (its newest checkpoint whose bytes
  all read back), and what to do."""
  paths = checkpoints.complete_checkpoints(checkpoint_dir)
  if not paths:
    return "nothing was saved: free space and rerun the same command to resume"
  intact = next((path for path in paths if checkpoints.damage(path) is None), None)
  if intact is None:
    return (f"no checkpoint in {checkpoint_dir} reads back intact: free space, then restore "
            f"them from a copy or move them away to start over")
  return (f"the checkpoint of step {checkpoints.step_of(intact)} is intact: free space and "
          f"rerun the same command to resume")


@contextlib.contextmanager
def precision_and_state(config, family, strategy, plan, chief):
  """Yields the TrainingState: checks model_dir, sets precision and builds the state
  before creating model_dir, whose lock the chief then holds until the block ends."""
  checkpoints.check_model_dir(config)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  set_precision(config)
  try:
    try:
      state = build_state(config, family, strategy, plan.element_shape)
      plan.bind(state.family_state)
    except ValueError as e:
      raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
    try:
      os.makedirs(config.model_dir, exist_ok=True)
    except OSError as e:
      raise config_lib.ConfigError(
          f"--model_dir={config.model_dir} cannot be created ({e.strerror}).") from e
    # Only the chief writes model_dir (the other workers write scratch folders).
    with lock.hold(config.model_dir, "train") if chief else contextlib.nullcontext():
      if chief:
        checkpoints.write_run_config(config)
      yield state
  finally:
    keras.mixed_precision.set_global_policy("float32")


def _checked_step(train_function, iterator, plan, step):
  """Step `step`; a truncated or corrupt record the schedule can name is a DataError, and
  running out of memory a ConfigError (a smaller batch fixes it)."""
  try:
    return train_function(iterator)
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
    if (data_error := plan.data_error(error)) is None:
      raise
    raise data_error from error
  except tf.errors.ResourceExhaustedError as error:
    allocation = re.search(r"OOM when allocating tensor with shape\s*\[[^\]]*\]", str(error))
    what = allocation.group(0) if allocation else "TensorFlow could not allocate a tensor"
    raise config_lib.ConfigError(
        f"Step {step} ran out of memory ({what}); the checkpoints written so far are kept: "
        f"run the same command with a smaller --batch_size and --allow_changes to resume "
        f"from the last one.") from error


class _Trainer:
  """One run's loop: the schedule's segments step by step, the non-finite policy, the
  periodic logs, summaries, checkpoints and metrics, then the ending (`finish`); `train`
  returns a `RunResult`."""

  def __init__(self, config, family, strategy, plan, state, *, chief, snapshot):
    self.config, self.family, self.strategy, self.plan = config, family, strategy, plan
    self.chief, self.state, self.snapshot = chief, state, snapshot
    self.export_dir = config.export_dir or os.path.join(config.model_dir, "export")
    # Workers other than the chief write to a temporary folder, as MWMS requires.
    self.scratch_dir = None if chief else tempfile.mkdtemp(prefix="keras_gen_worker_")
    self.checkpoint = checkpoints.make_checkpoint(state.step, state.networks, state.optimizers,
                                                  state.family_state)
    self.manager = checkpoints.make_manager(self.scratch_dir or config.model_dir,
                                            self.checkpoint, config.keep_checkpoints)
    self.last_failure = None  # The step whose non-finite values last restored a checkpoint.

  def train(self):
    """Starts (from the newest checkpoint, if any), trains every segment, saves the last step
    and ends the run; returns `result`."""
    current = self.saved_at = self._start()
    with _StopRequest() as self.stop:
      while (segment := self.plan.segment(current, self.state.optimizers)) is not None:
        current, stopped = self._train_segment(segment, current)
        if stopped:
          self.summaries.close()
          return self._interrupted(self.stop.signal, current, f"at step {current}; checkpoint "
                                   f"saved. Rerun the same command to resume.")
      # A signal from here on is honoured too: during the last save once it is written,
      # during the export at once (`finish`).
      if self.saved_at != current:
        checkpoints.save(self.manager, current)
      self.summaries.close()
      self.result.schedule = self.plan.finish()
      return self.finish(current)

  def _start(self):
    """Clears what killed writes left, restores the newest complete checkpoint and opens the
    logs (summaries with the config and HParams, the progress line, the result) at its step;
    returns that step."""
    if self.chief:
      checkpoints.remove_partial_writes(self.manager.directory)
      serving.remove_partial_exports(self.export_dir)
    restored = self._restore_newest()
    step = int(self.state.step.numpy())
    if restored:
      position, _ = self.plan.position()
      print(f"Resumed from {restored} at step {step}"
            + (f", {position}." if position else "."), flush=True)
    self.summaries = summaries_lib.Summaries(self.config.model_dir, enabled=self.chief)
    self.summaries.text("config", "```\n" + self.config.to_json() + "\n```", step)
    self.summaries.hparams(self.config)
    self.progress = summaries_lib.Progress(
        self.plan.total_steps(step), self.config.batch_size, step)
    self.result = RunResult(start_step=step, chief=self.chief)
    return step

  def _restore_newest(self):
    return checkpoints.restore(self.checkpoint,
                               checkpoints.complete_checkpoints(self.manager.directory))

  def _train_segment(self, segment, current):
    """Steps through `segment` from `current`; returns (step reached, whether a signal stopped
    the run). A checkpoint restored for non-finite values ends the segment early: the schedule
    gives the segment at the restored step."""
    iterator = iter(self.strategy.distribute_datasets_from_function(segment.input_fn))
    train_function = make_train_function(
        self.config, self.family, self.strategy, self.state, segment.global_batch_size,
        before_step=segment.before_step, after_step=segment.after_step)
    summary_function = make_summary_function(self.config, self.family, self.state,
                                             segment.summary_batch)
    self.progress.global_batch_size = segment.examples_per_step
    first_step = current + 1
    for current in range(first_step, segment.end_step + 1):
      losses, finite = _checked_step(train_function, iterator, self.plan, current)
      if current == first_step:
        self.progress.reset_clock(current)  # Leave tracing out of the throughput.
      losses = {name: float(value) for name, value in losses.items()}
      if not finite:
        restored_step = self._on_nonfinite(current, losses)
        if restored_step is not None:
          return restored_step, False
      self._end_of_step(current, losses, current == segment.end_step, summary_function)
      if self.stop.signal is not None:
        return current, True
    return current, False

  def _on_nonfinite(self, step, losses):
    """--on_nonfinite for a step with NaN or infinity: "skip" (its writes were not applied)
    says so and returns None; "restore" reloads the last checkpoint and returns its step.

    Raises NonFiniteError when there is no checkpoint, or the restored run fails again."""
    self.result.nonfinite_steps.append(step)
    self.summaries.scalars({"nonfinite/steps": len(self.result.nonfinite_steps)}, step)
    what = (f"a non-finite loss {losses}" if not all(map(math.isfinite, losses.values()))
            else f"an update that would write NaN or infinity (losses {losses})")
    if self.config.on_nonfinite == "skip":
      print(f"Step {step}: {what}; the step was skipped, none of its writes applied.", flush=True)
      return None
    if self.last_failure is not None and step <= self.last_failure:
      raise NonFiniteError(
          f"Step {step} gave non-finite values again after restoring the last "
          f"checkpoint; stopping (try a lower learning rate or --on_nonfinite=skip).")
    self.last_failure = step
    if (restored := self._restore_newest()) is None:
      raise NonFiniteError(f"Step {step} gave {what} and there is no checkpoint to restore; "
                           f"stopping.")
    restored_step = int(self.state.step.numpy())
    print(f"Step {step} gave {what}; restored {restored} and resumed from step "
          f"{restored_step}.", flush=True)
    return restored_step

  def _end_of_step(self, step, losses, at_end, summary_function):
    """The progress line, image summaries, checkpoint (`saved_at`) and metrics due at `step`."""
    config = self.config
    if step % config.log_every == 0 or at_end:
      self._log_progress(step, losses)
      self.result.losses = losses
    if step % config.summary_every == 0 or at_end:
      self.summaries.images(summary_function(), step)
    if step % config.checkpoint_every == 0 or at_end or self.stop.signal is not None:
      checkpoints.save(self.manager, step)
      self.saved_at = step
      if config.metrics and self.chief and self.stop.signal is None:
        self._evaluate_snapshot(step)
      self.progress.reset_clock(step)

  def _log_progress(self, step, losses):
    images_per_sec, step_time = self.progress.measure(step)
    position, scalars = self.plan.position()
    print(self.progress.line(step, losses, images_per_sec, step_time, position), flush=True)
    scalars = {**scalars, **{f"loss/{name}": value for name, value in losses.items()}}
    scalars.update({f"learning_rate/{name}":
                    float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                    for name, optimizer in self.state.optimizers.items()})
    if step_time is not None:
      scalars.update({"perf/images_per_sec": images_per_sec,
                      "perf/step_time_ms": step_time * 1000})
    self.summaries.scalars(scalars, step)

  def _evaluate_snapshot(self, step):
    """Logs and prints the snapshot's metrics; a metric that does not apply says why."""
    values, notes = self.snapshot(self.plan.config_now(self.config), self.family,
                                  self.state.networks, self.state.family_state, step)
    self.summaries.metrics(values, step)
    if values:
      print(f"Step {step}: " + "  ".join(f"{key} {value:.5g}" for key, value in values.items()),
            flush=True)
    for note in notes:
      print(f"Step {step}: {note}", flush=True)

  def finish(self, step):
    """The weights digest, peak memory, the chief's export (of the networks as they are now)
    and a barrier; a signal abandons the export, which the checkpoint can redo."""
    result, state = self.result, self.state
    if self.scratch_dir:
      shutil.rmtree(self.scratch_dir, ignore_errors=True)
    result.step = step
    if skipped := result.nonfinite_steps:
      print(f"Warning: {len(skipped)} of this run's {step - result.start_step} steps were "
            f"skipped for non-finite values (the first at step {skipped[0]}); if that is many, "
            f"lower the learning rates.", file=sys.stderr, flush=True)
    if nonfinite := serving.nonfinite_variables(step_writes(state)):
      raise NonFiniteError(f"Step {step}: NaN or infinity in {storage.name_some(nonfinite)}; "
                           f"the run is not exported.")
    result.weights_digest = checkpoints.weights_digest(state.networks, state.family_state)
    print(f"Step {step}: weights digest {result.weights_digest}.", flush=True)
    result.peak_memory_mb = {"training": summaries_lib.peak_resident_mb()}
    if self.chief:
      try:
        with self.stop.at_once():
          result.export_path = serving.export(
              self.family, state.networks, self.plan.config_now(self.config), step,
              self.export_dir, state.family_state)
      except _Stopped as stopped:
        if result.export_path is None:  # Else the signal came just after the export ended.
          flag = f" --export_dir={self.config.export_dir}" if self.config.export_dir else ""
          return self._interrupted(stopped.args[0], step, (
              f"before the export was written; the checkpoint of step {step} is saved: export it "
              f"with `python -m keras_gen.export --model_dir={self.config.model_dir}{flag}`."))
      print(f"Exported SavedModel to {result.export_path}", flush=True)
      result.peak_memory_mb["export"] = summaries_lib.peak_resident_mb()
    peaks = ", ".join(f"{stage} {mb:.0f} MB" for stage, mb in result.peak_memory_mb.items())
    print(f"Peak resident memory: {peaks}.", flush=True)
    strategies.barrier(self.strategy)
    return result

  def _interrupted(self, signum, step, what):
    """Says what a signal that stopped the run left; returns the interrupted result."""
    print(f"Stopped by signal {signum} {what}", flush=True)
    self.result.interrupted, self.result.signal, self.result.step = True, signum, step
    return self.result

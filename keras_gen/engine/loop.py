"""The training loop: one tf.function around strategy.run(family.train_step).

`run(config)` owns everything a family does not: the strategy, the input
pipeline, precision, XLA, checkpoints, summaries, signals and the final export.
"""

import contextlib
import functools
import math
import os
import shutil
import signal
import tempfile

import keras
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import metrics as metrics_lib
from keras_gen import registry
from keras_gen import serving
from keras_gen.engine import checkpoints
from keras_gen.engine import strategies
from keras_gen.engine import summaries as summaries_lib
from keras_gen.families import base

SUMMARY_EXAMPLES = 64


def resolve(config):
  """Returns `config` with the family's hyperparameters resolved and checked.

  Raises ConfigError for anything the user got wrong, before a file is written.
  """
  family, presets = registry.get_family(config.model)
  overrides = dict(presets)
  overrides.update(config.hparams)
  config.hparams = config_lib.resolve_hparams(config.model, family.DEFAULT_HPARAMS, overrides)
  if hasattr(family, "validate_hparams"):
    try:
      family.validate_hparams(config.hparams)
    except ValueError as e:
      raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
  config_lib.validate(config)
  for name in config.metrics:
    try:
      metrics_lib.get_metric(name)
    except ValueError as e:
      raise config_lib.ConfigError(f"--metrics: {e}") from e
  return config


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


def _set_precision(config):
  keras.mixed_precision.set_global_policy(
      "float32" if config.mixed_precision == "none" else config.mixed_precision)


def build_state(config, family, strategy, element_shape):
  """Creates networks, built optimizers and the step counter inside the strategy scope."""
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
  return networks, optimizers, step


def make_train_function(config, family, strategy, networks, optimizers, step):
  """Returns a tf.function that runs one distributed step and returns summed losses."""

  def replica_step(batch):
    context = base.StepContext(step=step.read_value(), seed=config.seed,
                               global_batch_size=config.batch_size)
    return family.train_step(networks, optimizers, batch, context, config.hparams)

  if config.xla:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def train_function(iterator):
    per_replica_losses = strategy.run(replica_step, args=(next(iterator),))
    losses = {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
              for name, value in per_replica_losses.items()}
    step.assign_add(1)
    return losses

  return train_function


def make_summary_function(config, family, networks, summary_batch):
  batch = {"images" if summary_batch.ndim == 4 else "points":
           data.from_uint8(summary_batch) if summary_batch.ndim == 4
           else tf.constant(summary_batch)}
  context = base.StepContext(step=tf.constant(0, tf.int64), seed=config.seed,
                             global_batch_size=len(summary_batch))
  return tf.function(
      functools.partial(family.summaries, networks, batch, context, config.hparams))


def minibatches_per_step(family, hparams):
  return family.minibatches_per_step(hparams) if hasattr(family, "minibatches_per_step") else 1


class _StopRequest:
  """Turns SIGINT/SIGTERM into a request the loop honours after the current step."""

  def __init__(self):
    self.signal = None
    self._previous = {}

  def __enter__(self):
    for signum in (signal.SIGINT, signal.SIGTERM):
      self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.signal = signum

  def __exit__(self, *exc):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)


class NonFiniteError(RuntimeError):
  """Training produced NaN or infinite losses that restoring could not get past."""


def _log_progress(current, losses, progress, optimizers, summaries):
  images_per_sec, step_time = progress.measure(current)
  print(progress.line(current, losses, images_per_sec, step_time), flush=True)
  scalars = {f"loss/{name}": value for name, value in losses.items()}
  scalars.update({f"learning_rate/{name}":
                  float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                  for name, optimizer in optimizers.items()})
  if step_time is not None:
    scalars.update({"perf/images_per_sec": images_per_sec,
                    "perf/step_time_ms": step_time * 1000})
  summaries.scalars(scalars, current)


def evaluate_snapshot(config, family, networks, step, summaries):
  """Runs --metrics on the networks in memory; the same figures evaluate gives the checkpoint.

  A metric that does not apply here (e.g. SWD on 4x4 images) prints why instead.
  """
  from keras_gen.metrics import evaluation  # pylint: disable=g-import-not-at-top
  results = evaluation.evaluate_networks(family, networks, config, step, config.metrics,
                                         num_samples=config.metric_samples, seed=config.seed)
  values = {f"metrics/{name}/{key}": value for name, metric in results["metrics"].items()
            for key, value in metric.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            and key != "seconds"}
  summaries.scalars(values, step)
  if values:
    print(f"Step {step}: " + "  ".join(f"{key[len('metrics/'):]} {value:.5g}"
                                         for key, value in values.items()), flush=True)
  for metric in results["metrics"].values():
    if "skipped" in metric:
      print(f"Step {step}: {metric['skipped']}", flush=True)


def _checkpoint_dir_for(strategy, model_dir):
  """Workers other than the chief write to a temporary folder, as MWMS requires."""
  if strategies.is_chief(strategy):
    return model_dir, None
  scratch = tempfile.mkdtemp(prefix="keras_gen_worker_")
  return scratch, scratch


def run(config):
  """Trains `config.model` on `config.dataset` to `config.train_steps`; returns a summary dict.

  Rerunning with the same model_dir resumes from its newest checkpoint.
  """
  config = resolve(config)
  family, _ = registry.get_family(config.model)
  if hasattr(family, "phases"):  # A schedule of growing resolutions, e.g. Progressive GAN.
    from keras_gen.engine import phased  # pylint: disable=g-import-not-at-top  (imports loop)
    return phased.run(config, family)
  strategy = strategies.make_strategy(config)
  if config.batch_size % strategy.num_replicas_in_sync:
    raise config_lib.ConfigError(
        f"--batch_size={config.batch_size} is not divisible by the "
        f"{strategy.num_replicas_in_sync} replicas in sync.")
  source, summary_batch = load_sources(config, family)
  config.element_shape = list(source.element_shape)
  with precision_and_state(config, family, strategy, source.element_shape) as state:
    return _train(config, family, strategy, source, summary_batch, *state)


@contextlib.contextmanager
def precision_and_state(config, family, strategy, element_shape):
  """Checks model_dir, sets precision, builds the state, then claims model_dir.

  Yields (chief, networks, optimizers, step). Everything a user can get wrong
  is refused before model_dir is created; the precision policy is reset after.
  """
  checkpoints.check_model_dir(config)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  _set_precision(config)
  try:
    try:
      networks, optimizers, step = build_state(config, family, strategy, element_shape)
    except ValueError as e:
      raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
    chief = strategies.is_chief(strategy)
    os.makedirs(config.model_dir, exist_ok=True)
    if chief:
      checkpoints.write_run_config(config)
    yield chief, networks, optimizers, step
  finally:
    keras.mixed_precision.set_global_policy("float32")


def _train(config, family, strategy, source, summary_batch, chief, networks, optimizers, step):
  checkpoint_dir, scratch_dir = _checkpoint_dir_for(strategy, config.model_dir)
  checkpoint, manager = checkpoints.make_manager(
      checkpoint_dir, networks, optimizers, step, config.keep_checkpoints)
  restored = checkpoints.restore_latest(checkpoint, manager)
  start_step = int(step.numpy())
  if restored:
    print(f"Resumed from {restored} at step {start_step}.", flush=True)

  summaries = summaries_lib.Summaries(config.model_dir, enabled=chief)
  summaries.text("config", "```\n" + config.to_json() + "\n```", start_step)
  progress = summaries_lib.Progress(
      config.train_steps, config.batch_size * minibatches_per_step(family, config.hparams),
      start_step)
  summary_function = make_summary_function(config, family, networks, summary_batch)
  result = {"start_step": start_step, "losses": {}, "interrupted": False}

  if start_step < config.train_steps:
    examples_per_step = config.batch_size * minibatches_per_step(family, config.hparams)

    def iterator_from(first_step):
      return iter(strategy.distribute_datasets_from_function(
          data.input_fn(source, examples_per_step, config.seed, first_step,
                        minibatches=minibatches_per_step(family, config.hparams))))

    iterator = iterator_from(start_step)
    train_function = make_train_function(config, family, strategy, networks, optimizers, step)
    last_failure = None
    current = start_step
    with _StopRequest() as stop:
      while current < config.train_steps:
        losses = train_function(iterator)
        current += 1
        if current == start_step + 1:
          progress.reset_clock(current)  # Leave tracing out of the throughput.
        losses = {name: float(value) for name, value in losses.items()}
        if not all(math.isfinite(value) for value in losses.values()):
          result["nonfinite_steps"] = result.get("nonfinite_steps", []) + [current]
          summaries.scalars({"nonfinite/steps": len(result["nonfinite_steps"])}, current)
          if config.on_nonfinite == "skip":
            print(f"Step {current}: non-finite loss {losses}; the update was skipped.",
                  flush=True)
          else:
            if last_failure is not None and current <= last_failure:
              raise NonFiniteError(
                  f"Step {current} gave a non-finite loss again after restoring the last "
                  f"checkpoint; stopping (try a lower learning rate or --on_nonfinite=skip).")
            last_failure = current
            restored = checkpoints.restore_latest(checkpoint, manager)
            if restored is None:
              raise NonFiniteError(f"Step {current} gave a non-finite loss {losses} and there "
                                   f"is no checkpoint to restore; stopping.")
            current = int(step.numpy())
            iterator = iterator_from(current)
            print(f"Non-finite loss at step {last_failure}; restored {restored} and resumed "
                  f"from step {current}.", flush=True)
            continue
        if current % config.log_every == 0 or current == config.train_steps:
          _log_progress(current, losses, progress, optimizers, summaries)
          result["losses"] = losses
        if current % config.summary_every == 0 or current == config.train_steps:
          summaries.images(summary_function(), current)
        if current % config.checkpoint_every == 0 or stop.signal is not None:
          manager.save(checkpoint_number=current)
          if config.metrics and chief and stop.signal is None:
            evaluate_snapshot(config, family, networks, current, summaries)
          progress.reset_clock(current)
        if stop.signal is not None:
          return stopped_by_signal(summaries, stop.signal, current, result)
    manager.save(checkpoint_number=config.train_steps)
  summaries.close()
  return finish(config, family, strategy, networks, chief, int(step.numpy()), result,
                scratch_dir)


def stopped_by_signal(summaries, signum, step, result):
  """Closes the logs after the checkpoint a signal asked for; returns the interrupted result."""
  summaries.close()
  print(f"Stopped by signal {signum} at step {step}; checkpoint saved. "
        f"Rerun the same command to resume.", flush=True)
  result.update(interrupted=True, signal=signum, step=step)
  return result


def finish(config, family, strategy, networks, chief, step, result, scratch_dir,
           export_config=None):
  """Ends a finished run: the weights digest, peak memory, the chief's export, a barrier.

  `export_config` overrides `config` for the export (a phased run exports at
  the resolution it reached).
  """
  if scratch_dir:
    shutil.rmtree(scratch_dir, ignore_errors=True)
  result["step"] = step
  result["weights_digest"] = checkpoints.weights_digest(networks)
  print(f"Step {step}: weights digest {result['weights_digest']}.", flush=True)
  result["peak_memory_mb"] = {"training": summaries_lib.peak_resident_mb()}
  if chief:
    export_dir = config.export_dir or os.path.join(config.model_dir, "export")
    result["export_path"] = serving.export(family, networks, export_config or config, step,
                                           export_dir)
    print(f"Exported SavedModel to {result['export_path']}", flush=True)
    result["peak_memory_mb"]["export"] = summaries_lib.peak_resident_mb()
  print("Peak resident memory: " + ", ".join(
      f"{stage} {mb:.0f} MB" for stage, mb in result["peak_memory_mb"].items()) + ".", flush=True)
  strategies.barrier(strategy)
  return result


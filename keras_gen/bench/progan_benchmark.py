"""Progressive GAN's cost per level, each timed in its own process on synthetic images, and the
schedule's duration estimated from it (docs/progan.md, "Per-level costs"; docs/benchmark.md)."""

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import time

from keras_gen import config as config_lib
from keras_gen import machine
from keras_gen.data import tfrecords
from keras_gen.data.errors import DataError

_CALLS = ("PartitionedCall", "StatefulPartitionedCall")
_CONDS = ("If", "StatelessIf")

TIME_BUDGET_SECONDS = 60.0  # Per level, once MIN_TIMED_STEPS are timed.
MIN_TIMED_STEPS = 3


def _status_kb(field):
  try:
    with open("/proc/self/status") as f:
      match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
  except OSError:
    return None
  return int(match.group(1)) if match else None


def _reset_peak():
  """Resets this process's VmHWM to its current size; False if the kernel does not allow it."""
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
    return True
  except OSError:
    return False


def _flops_of(graph, functions, take_r1):
  """Executed FLOP of `graph` and its calls: the lazy R1 cond's `take_r1` branch, else the max."""
  from keras_gen.bench import op_profile  # pylint: disable=g-import-not-at-top
  from keras_gen.families import progan  # pylint: disable=g-import-not-at-top
  total = 0
  for op in op_profile.live_ops(graph):
    if op.type in op_profile.HEAVY_OPS:
      total += op_profile._flops(graph, op)  # pylint: disable=protected-access
    elif op.type in _CALLS:
      total += _flops_of(functions[op.get_attr("f").name], functions, take_r1)
    elif op.type in _CONDS:
      then, other = (op.get_attr(branch).name for branch in ("then_branch", "else_branch"))
      if then.startswith(progan.LAZY_R1 + "_true"):
        total += _flops_of(functions[then if take_r1 else other], functions, take_r1)
      else:
        total += max(_flops_of(functions[name], functions, take_r1) for name in (then, other))
  return total


def lazy_flops(concrete_function):
  """(executed FLOP of a step taking the lazy R1 penalty, of one skipping it); equal without
  one. Unlike op_profile's count, which walks every branch, it follows the branch a step runs."""
  from keras_gen.bench import op_profile  # pylint: disable=g-import-not-at-top
  functions = dict(op_profile.function_graphs(concrete_function.graph)[1:])
  return tuple(_flops_of(concrete_function.graph, functions, take_r1)
               for take_r1 in (True, False))


def measure_level(config, element_shape, level, batch_size, steps, matmul_size=2048):
  """A report row: `config`'s steps at `level` of (R, R, C) data, timed here, and a float32
  matmul timed after them; with loss=ns_r1, flops_per_step averages over r1_interval steps."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from keras_gen.bench import benchmark  # pylint: disable=g-import-not-at-top
  from keras_gen.engine import loop  # pylint: disable=g-import-not-at-top
  from keras_gen.engine import strategies  # pylint: disable=g-import-not-at-top
  from keras_gen.engine import summaries  # pylint: disable=g-import-not-at-top
  config, family = benchmark.resolve_config(config)
  strategy = strategies.make_strategy(config)
  loop.set_precision(config)
  try:
    state = loop.build_state(config, family, strategy, tuple(element_shape))
  finally:  # The layers keep the policy they were built with.
    loop.set_precision(dataclasses.replace(config, mixed_precision="none"))
  resettable = _reset_peak()
  state.family_state.level.assign(level)
  state.family_state.alpha.assign(0.5)
  size, channels = 2 ** level, element_shape[2]

  def dataset_fn(input_context):
    per_replica = input_context.get_per_replica_batch_size(batch_size)
    images = tf.random.stateless_uniform([per_replica, size, size, channels], [level, 0],
                                         minval=-1.0, maxval=1.0)
    return tf.data.Dataset.from_tensors({"images": images}).repeat()

  iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
  train_function = loop.make_train_function(config, family, strategy, state, batch_size)

  # With lazy R1, whole intervals, so the timed steps hold the penalty's share.
  interval = config.hparams["r1_interval"] if config.hparams["loss"] == "ns_r1" else 1
  first_step = benchmark.time_steps(train_function, iterator, 1)
  benchmark.time_steps(train_function, iterator, 1)  # Warm-up.
  timed, started = 0, time.perf_counter()
  while timed < steps and (timed < MIN_TIMED_STEPS
                           or time.perf_counter() - started < TIME_BUDGET_SECONDS):
    for _ in range(interval):
      benchmark.time_steps(train_function, iterator, 1)
    timed += interval
  seconds = (time.perf_counter() - started) / timed
  training_peak = _status_kb("VmHWM") if resettable else None
  # After the peak is read: neither is part of the step.
  matmul_rate = benchmark.matmul_gflops(matmul_size)
  with_r1, without_r1 = lazy_flops(train_function.get_concrete_function(iterator))
  flops = (with_r1 + (interval - 1) * without_r1) / interval
  lazy = ({"r1_interval": interval, "flops_per_step_with_r1": with_r1,
           "flops_per_step_without_r1": without_r1} if config.hparams["loss"] == "ns_r1" else {})
  return {"level": level, "resolution": size, "batch_size": batch_size, "steps_timed": timed,
          "seconds_per_step": seconds, "images_per_sec": batch_size / seconds,
          "flops_per_step": flops, "gflop_per_image": flops / batch_size / 1e9,
          "gflops": flops / seconds / 1e9, "matmul_gflops": matmul_rate,
          "fraction_of_matmul": flops / seconds / 1e9 / matmul_rate,
          "first_step_seconds": first_step, "process_peak_mb": summaries.peak_resident_mb(),
          "training_peak_mb": None if training_peak is None else training_peak / 1024.0, **lazy}


# Channels of a missing progan: folder named after a known dataset; longest names first.
KNOWN_CHANNELS = (("fashion_mnist", 1), ("mnist", 1), ("cifar10", 3))


def data_shape(config, resolution=0, channels=0):
  """((R, R, C), where C came from) of the recipe's progan: dataset, which need not exist
  when `resolution` is given (C: `channels`, else `dataset_channels`)."""
  path = config.dataset.removeprefix("progan:")
  if resolution:
    if not tfrecords.is_level_resolution(resolution):
      raise config_lib.ConfigError(f"--resolution={resolution} is not a power of two >= 4.")
    channels, source = (channels, "--channels") if channels else dataset_channels(path)
    return (resolution, resolution, channels), source
  try:
    description = tfrecords.info(path)
  except DataError as e:
    raise config_lib.ConfigError(f"{e} Or pass --resolution (and --channels) to time the "
                                 f"networks on synthetic images without it.") from e
  return ((description["resolution"], description["resolution"], description["channels"]),
          f"the images in {path}")


def dataset_channels(path):
  """(C, its source): dataset.json's "channels", else KNOWN_CHANNELS by folder name, else 3."""
  metadata_path = os.path.join(path, tfrecords.METADATA_FILE)
  if os.path.exists(metadata_path):
    try:
      with open(metadata_path) as f:
        metadata = json.load(f)
    except (OSError, ValueError) as e:
      raise config_lib.ConfigError(f"{metadata_path} cannot be read as JSON ({e}); fix or "
                                   f"remove it, or pass --channels.") from e
    if not isinstance(metadata, dict) or metadata.get("channels") not in (1, 3):
      raise config_lib.ConfigError(f"{metadata_path} gives no channel count (\"channels\": 1 "
                                   f"or 3); fix it, or pass --channels.")
    return metadata["channels"], metadata_path
  name = os.path.basename(os.path.normpath(path))
  for dataset, count in KNOWN_CHANNELS:
    if name.startswith(dataset):
      return count, f"the folder's name: {dataset} is {'grayscale' if count == 1 else 'RGB'}"
  return 3, "assumed RGB: pass --channels if not"


def measure_levels(config, element_shape, resolutions=(), batch_size=0, steps=30,
                   channels_source="", matmul_size=2048):
  """measure_level in a fresh process per resolution (default: every level), a failed one
  reported with its error; batch_size 0 takes the schedule's minibatch at each level."""
  from keras_gen.bench import benchmark  # pylint: disable=g-import-not-at-top
  config, family = benchmark.resolve_config(config)
  if family.resolutions is None:
    raise config_lib.ConfigError(
        f"--progan_levels times the levels of a phased model; {config.model!r} has none.")
  from keras_gen.families import progan  # pylint: disable=g-import-not-at-top
  phases = progan.phases(config.hparams, tuple(element_shape))
  top = element_shape[0]
  for side in resolutions:
    if side > top or not tfrecords.is_level_resolution(side):
      raise config_lib.ConfigError(f"--progan_levels holds {side}, which is not a power of "
                                   f"two from 4 to {top}.")
  levels = ([int(math.log2(side)) for side in resolutions]
            or list(range(2, int(math.log2(top)) + 1)))
  batch_sizes = {phase.level: phase.batch_size for phase in phases}
  rows, load = [], machine.OtherLoad().start()
  for level in levels:
    spec = {"config": dataclasses.asdict(config), "element_shape": list(element_shape),
            "level": level, "steps": steps, "matmul_size": matmul_size,
            "batch_size": batch_size or batch_sizes.get(level, config.hparams["minibatch_default"])}
    rows.append(_run_child(spec))
    speed = (f"{rows[-1]['images_per_sec']:.2f} img/s" if "images_per_sec" in rows[-1]
             else rows[-1]["error"])
    print(f"{2 ** level}x{2 ** level}: {speed}", file=sys.stderr, flush=True)
  return {"model": config.model, "dataset": config.dataset, "element_shape": list(element_shape),
          "channels_source": channels_source, "hparams": config.hparams,
          "batch_source": "--batch_size" if batch_size else "the schedule's",
          "mixed_precision": config.mixed_precision, "xla": config.xla,
          "on_nonfinite": config.on_nonfinite, "matmul_size": matmul_size,
          "machine": machine.describe(), "other_load_cores": load.stop(),
          "levels": rows, "estimate": estimate_duration(phases, rows)}


def _run_child(spec):
  result = subprocess.run([sys.executable, "-m", __name__, json.dumps(spec)], capture_output=True,
                          text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), check=False)
  lines = result.stdout.strip().splitlines()
  if result.returncode != 0 or not lines:
    reason = (f"killed by signal {-result.returncode} (out of memory?)" if result.returncode < 0
              else (result.stderr.strip().splitlines() or ["no output"])[-1])
    return {"level": spec["level"], "resolution": 2 ** spec["level"],
            "batch_size": spec["batch_size"], "error": reason}
  return json.loads(lines[-1])


def estimate_duration(phases, rows):
  """Each phase's kimg at its level's measured images/s (seconds None if a level is missing)."""
  rates = {row["level"]: row.get("images_per_sec") for row in rows}
  per_phase = [(phase.level, phase.kimg,
                1000 * phase.kimg / rates[phase.level] if rates.get(phase.level) else None)
               for phase in phases]
  images = sum(phase.images for phase in phases)
  times = [seconds for _, _, seconds in per_phase]
  seconds = None if None in times else sum(times)
  return {"seconds": seconds, "images": images, "phases": per_phase,
          "average_images_per_sec": None if seconds is None else images / seconds}


def _work(hparams):
  if hparams.get("loss", "wgan_gp") == "ns_r1":
    return (f"G, D on reals and fakes, backward passes, and R1's double backprop on the reals "
            f"every {hparams['r1_interval']} steps, averaged over them")
  return ("G, D on reals, fakes and interpolates, backward passes, the gradient penalty's "
          "double backprop")


def format_levels_report(results):
  height, width, channels = results["element_shape"]
  hparams = results["hparams"]
  channels_source = results.get("channels_source")
  lines = [f"progan per level: {results['dataset']} ({height}x{width}x{channels}"
           f"{f'; channels from {channels_source}' if channels_source else ''}), fmap_base "
           f"{hparams['fmap_base']}, fmap_max {hparams['fmap_max']}, latent "
           f"{hparams['latent_dim']}, precision {results['mixed_precision']}, "
           f"{'with' if results.get('xla') else 'without'} XLA, "
           f"--on_nonfinite={results['on_nonfinite']}, synthetic images, "
           f"{results['batch_source']} minibatch; {machine.summary(results['machine'])}, "
           f"{machine.load_note(results.get('other_load_cores'))}",
           f"  GFLOP/img: the step's executed convolutions and matmuls ({_work(hparams)}, "
           f"both fade-in paths) per image; matmul: a float32 {results['matmul_size']}x"
           f"{results['matmul_size']} matmul's GFLOP/s, timed in each level's process after "
           f"its steps",
           "  resolution  batch  ms/step     img/s  GFLOP/img  GFLOP/s  matmul  of matmul  "
           "first step s  training peak MB  process peak MB"]
  for row in results["levels"]:
    side = f"{row['resolution']}x{row['resolution']}"
    if "error" in row:
      lines.append(f"  {side:>10}  {row['batch_size']:5d}  failed: {row['error']}")
      continue
    training = row["training_peak_mb"]
    lines.append(f"  {side:>10}  {row['batch_size']:5d}  {row['seconds_per_step'] * 1e3:7.1f}  "
                 f"{row['images_per_sec']:8.2f}  {row['gflop_per_image']:9.4f}  "
                 f"{row['gflops']:7.1f}  {row['matmul_gflops']:6.1f}  "
                 f"{100 * row['fraction_of_matmul']:8.0f}%  "
                 f"{row['first_step_seconds']:12.1f}  "
                 f"{'n/a' if training is None else f'{training:.0f}':>16}  "
                 f"{row['process_peak_mb']:15.0f}")
  estimate = results["estimate"]
  if estimate["seconds"] is None:
    lines.append("  The schedule's duration needs every level it trains at measured.")
  else:
    lines.append(f"  The schedule ({estimate['images'] / 1000:g} kimg in {len(estimate['phases'])} "
                 f"phases) at these rates: {estimate['seconds'] / 3600:.1f} hours of steps, "
                 f"{estimate['average_images_per_sec']:.1f} img/s on average (sum over phases "
                 f"of kimg / img/s at the phase's level; snapshots and metrics not included).")
  return "\n".join(lines)


def _child(argv):
  spec = json.loads(argv[1])
  config = config_lib.TrainConfig(**spec["config"])
  row = measure_level(config, spec["element_shape"], spec["level"], spec["batch_size"],
                      spec["steps"], spec["matmul_size"])
  print(json.dumps(row), flush=True)


if __name__ == "__main__":
  _child(sys.argv)

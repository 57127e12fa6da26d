"""A recipe's training speed against this machine's own matmul rate: each precision and XLA
mode's images/s, executed FLOPs (optionally op by op), the input pipeline (docs/benchmark.md)."""

import collections
import re
import subprocess
import sys
import tempfile
import time

import keras
import tensorflow as tf

from keras_gen import data
from keras_gen import machine
from keras_gen import registry
from keras_gen.engine import loop
from keras_gen.bench import op_profile
from keras_gen.engine import segments
from keras_gen.engine import strategies

ROUNDS = 3  # Timed rounds per mode; the modes take turns.


def matmul_gflops(size=2048, repeats=20, dtype=tf.float32):
  """GFLOP/s of a [size, size] x [size, size] matmul of `dtype` (2 size^3 flops each)."""
  a = tf.random.stateless_normal([size, size], seed=[1, 2], dtype=dtype)
  b = tf.random.stateless_normal([size, size], seed=[3, 4], dtype=dtype)

  @tf.function
  def chain(a, b):
    result = a
    for _ in range(repeats):
      result = tf.matmul(result, b) * 1e-3
    return result

  return 2.0 * size ** 3 * repeats / op_profile.best_seconds(lambda: chain(a, b)) / 1e9


def input_images_per_sec(source, batch_size, seed, batches=200):
  iterator = iter(data.input_fn(source, batch_size, seed)(tf.distribute.InputContext()))
  next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches * batch_size / (time.perf_counter() - start)


def time_steps(train_function, iterator, steps):
  """Seconds per step of `steps` steps, the last one's losses awaited."""
  start = time.perf_counter()
  for _ in range(steps):
    losses, _ = train_function(iterator)
  for value in losses.values():
    value.numpy()
  return (time.perf_counter() - start) / steps


def resolve_config(config):
  """(`config` as a run here resolves it, model_dir unused, and its family)."""
  config.model_dir = config.model_dir or "unused"
  config = loop.resolve(config)
  return config, registry.get_family(config.model)[0]


Mode = collections.namedtuple("Mode", ["precision", "xla"])


def mode_name(mode):
  return ("float32" if mode.precision == "none" else mode.precision) + (" + XLA" if mode.xla else "")


def _build(config, family, strategy, source, mode, examples_per_step):
  config.xla, config.mixed_precision = mode.xla, mode.precision
  loop.set_precision(config)
  try:
    state = loop.build_state(config, family, strategy, source.element_shape)
    iterator = iter(strategy.distribute_datasets_from_function(
        data.input_fn(source, examples_per_step, config.seed)))
    train_function = loop.make_train_function(config, family, strategy, state, config.batch_size)
    for _ in range(3):
      train_function(iterator)
  finally:
    keras.mixed_precision.set_global_policy("float32")
  return train_function, iterator


def measure(config, steps=30, modes=(Mode("none", False), Mode("none", True)), ops=False,
            matmul_size=2048):
  """The measurements of `config` (model_dir unused), each mode by its fastest round; with
  `ops`, the first mode's heavy ops replayed alone."""
  load = machine.OtherLoad().start()
  config, family = resolve_config(config)
  # What a run of this config uses here, 'auto' resolved; the timed modes set their own.
  run_mode = mode_name(Mode(config.mixed_precision, config.xla))
  strategy = strategies.make_strategy(config)
  source, _ = segments.load_sources(config, family)
  examples_per_step = config.batch_size * family.minibatches_per_step(config.hparams)
  results = {
      "model": config.model, "dataset": config.dataset, "batch_size": config.batch_size,
      "examples_per_step": examples_per_step, "on_nonfinite": config.on_nonfinite,
      "element_shape": list(source.element_shape), "hparams": config.hparams,
      "steps_timed": steps, "machine": machine.describe(), "run_mode": run_mode,
      "matmul_size": matmul_size, "matmul_gflops": matmul_gflops(matmul_size),
      "matmul_bfloat16_gflops": matmul_gflops(matmul_size, dtype=tf.bfloat16), "modes": {}}
  built = {mode: _build(config, family, strategy, source, mode, examples_per_step)
           for mode in modes}
  train_function, iterator = built[modes[0]]
  concrete_function = train_function.get_concrete_function(iterator)
  results["flops_per_step"] = op_profile.executed_flops(concrete_function)
  results["flops_per_image"] = results["flops_per_step"] / examples_per_step
  # The profiler does not look inside an XLA-compiled function: its 0 there is no count.
  results["profiler_flops_per_step"] = op_profile.all_flops(concrete_function) or None
  seconds = {mode: [] for mode in modes}
  for _ in range(ROUNDS):
    for mode, (train_function, iterator) in built.items():
      seconds[mode].append(time_steps(train_function, iterator, max(steps // ROUNDS, 1)))
  for mode in modes:
    best = min(seconds[mode])
    achieved = results["flops_per_step"] / best / 1e9
    results["modes"][mode_name(mode)] = {
        "precision": mode.precision, "xla": mode.xla, "step_seconds": best,
        "images_per_sec": examples_per_step / best, "gflops": achieved,
        "fraction_of_matmul": achieved / results["matmul_gflops"],
        "fraction_of_bfloat16_matmul": achieved / results["matmul_bfloat16_gflops"]}
  results["fastest"] = min(results["modes"], key=lambda name: results["modes"][name]["step_seconds"])
  if ops:
    results["ops"] = _op_table(concrete_function, results["modes"][mode_name(modes[0])])
  results["input_images_per_sec"] = input_images_per_sec(source, examples_per_step, config.seed)
  fastest_rate = results["modes"][results["fastest"]]["images_per_sec"]
  results["input_headroom"] = results["input_images_per_sec"] / fastest_rate
  results["other_load_cores"] = load.stop()
  return results


def _op_table(concrete_function, mode_result):
  rows = {}
  for item, seconds in op_profile.time_heavy_ops(concrete_function):
    key = (item.type, str(item.shapes), item.dtype.name)
    row = rows.setdefault(key, {"op": item.type, "shapes": item.shapes, "dtype": item.dtype.name,
                                "count": 0, "flops": 0, "seconds": 0.0})
    row.update(count=row["count"] + 1, flops=row["flops"] + item.flops,
               seconds=row["seconds"] + seconds)
  table = sorted(rows.values(), key=lambda row: -row["seconds"])
  heavy = sum(row["seconds"] for row in table)
  return {"rows": table, "heavy_seconds": heavy,
          "other_seconds": max(mode_result["step_seconds"] - heavy, 0.0)}


def format_report(results):
  rate, bf16_rate = results["matmul_gflops"], results["matmul_bfloat16_gflops"]
  profiler = results["profiler_flops_per_step"]
  profiler_note = (
      "TensorFlow's profiler does not count inside an XLA-compiled step" if profiler is None
      else f"{profiler / 1e9:.3f} counted by TensorFlow's profiler, which includes pruned ops")
  lines = [f"benchmark: {results['model']} on {results['dataset']} "
           f"({'x'.join(map(str, results['element_shape']))}), global batch "
           f"{results['batch_size']}",
           f"machine: {machine.summary(results['machine'])}; "
           f"{machine.load_note(results.get('other_load_cores'))}",
           f"  matmul {results['matmul_size']}x{results['matmul_size']}: float32 {rate:.1f} "
           f"GFLOP/s, bfloat16 {bf16_rate:.1f} GFLOP/s",
           f"  work per train step: {results['flops_per_step'] / 1e9:.3f} GFLOP executed "
           f"({profiler_note}), "
           f"{results['flops_per_image'] / 1e9:.4f} GFLOP per image of the "
           f"{results['examples_per_step']} the step trains on; non-finite guard "
           f"--on_nonfinite={results['on_nonfinite']}",
           f"  {'mode':<24} {'img/s':>8} {'ms/step':>8} {'GFLOP/img':>9} {'GFLOP/s':>8}  "
           f"of f32 matmul  of bf16 matmul"]
  for name, mode in results["modes"].items():
    lines.append(f"  {name:<24} {mode['images_per_sec']:8.1f} {mode['step_seconds'] * 1e3:8.1f} "
                 f"{results['flops_per_image'] / 1e9:9.4f} "
                 f"{mode['gflops']:8.1f}  {100 * mode['fraction_of_matmul']:12.0f}%  "
                 f"{100 * mode['fraction_of_bfloat16_matmul']:13.0f}%")
  lines.append(f"  fastest: {results['fastest']}; a run of this configuration here uses "
               f"{results['run_mode']}")
  if "ops" in results:
    table = results["ops"]
    first = next(iter(results["modes"]))
    lines.append(f"  op by op ({first}; each convolution and matmul replayed alone):")
    lines.append(f"    {'op':<21} {'input shapes':<44} {'n':>2} {'MFLOP':>8} {'ms':>7} "
                 f"{'GFLOP/s':>8} {'of f32 mm':>9}")
    for row in table["rows"]:
      shapes = " ".join("x".join(map(str, shape)) for shape in row["shapes"] if len(shape) > 1)
      gflops = row["flops"] / row["seconds"] / 1e9 if row["seconds"] else 0.0
      lines.append(f"    {row['op']:<21} {shapes:<44} {row['count']:>2} "
                   f"{row['flops'] / 1e6:8.1f} {row['seconds'] * 1e3:7.2f} {gflops:8.1f} "
                   f"{100 * gflops / rate:8.0f}%")
    step = results["modes"][first]["step_seconds"]
    lines.append(f"    convolutions and matmuls alone: {table['heavy_seconds'] * 1e3:.1f} ms of "
                 f"the {step * 1e3:.1f} ms step; everything else (normalization, activations, "
                 f"optimizer updates, step overhead): {table['other_seconds'] * 1e3:.1f} ms")
  lines.append(f"  input pipeline alone: {results['input_images_per_sec']:.1f} img/s "
               f"({results['input_headroom']:.1f}x what training consumes)")
  return "\n".join(lines)


def measure_memory(recipe, steps=20):
  """Peak resident MB of training `recipe` for `steps` steps and of its export, in a new process."""
  with tempfile.TemporaryDirectory() as model_dir:
    command = [sys.executable, "-m", "keras_gen.train", f"--recipe={recipe}",
               f"--model_dir={model_dir}", f"--train_steps={steps}", f"--log_every={steps}",
               f"--summary_every={steps}", f"--checkpoint_every={steps}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
  match = re.search(r"Peak resident memory: training (\d+) MB, export (\d+) MB", result.stdout)
  if result.returncode != 0 or match is None:
    raise RuntimeError(f"Training recipe {recipe} failed: {result.stderr.strip()[-500:]}")
  return {"recipe": recipe, "steps": steps, "training_mb": int(match.group(1)),
          "export_mb": int(match.group(2))}

"""Measures a recipe's training speed against this machine's own matmul rate.

Reports, in one run on one machine:
  * train images/s with and without XLA (the same step function the engine runs),
  * the step's floating-point work, counted by TensorFlow's profiler on the
    step's graph (multiply-adds of MatMul/Conv2D and their gradients count 2),
    and the GFLOP/s it achieves,
  * a float32 matmul's GFLOP/s measured here, the practical roofline of this
    CPU, and each train rate as a fraction of it,
  * the input pipeline's images/s on its own, and how many times faster than
    training consumes it it runs.
Speed targets live here, never in tests.
"""

import os
import platform
import re
import subprocess
import sys
import tempfile
import time

import tensorflow as tf

from keras_gen import data
from keras_gen import registry
from keras_gen.engine import loop
from keras_gen.engine import segments
from keras_gen.engine import strategies


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

  chain(a, b).numpy()
  best = float("inf")
  for _ in range(3):
    start = time.perf_counter()
    chain(a, b).numpy()
    best = min(best, time.perf_counter() - start)
  return 2.0 * size ** 3 * repeats / best / 1e9


def graph_flops(concrete_function):
  """Floating-point operations of one call, from the profiler's per-op statistics."""
  graph = concrete_function.graph
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  profile = tf.compat.v1.profiler.profile(graph, options=options)
  return int(profile.total_float_ops)


def input_images_per_sec(source, batch_size, seed, batches=200):
  dataset = data.input_fn(source, batch_size, seed)(tf.distribute.InputContext())
  iterator = iter(dataset)
  next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  return batches * batch_size / (time.perf_counter() - start)


def _time_steps(train_function, iterator, steps, warmup=3):
  for _ in range(warmup):
    train_function(iterator)
  start = time.perf_counter()
  for _ in range(steps):
    losses, _ = train_function(iterator)
  for value in losses.values():
    value.numpy()
  return (time.perf_counter() - start) / steps


def measure(config, steps=30, xla_modes=(False, True)):
  """Returns a dict of measurements for `config` (a TrainConfig; model_dir is unused)."""
  config.model_dir = config.model_dir or "unused"
  config = loop.resolve(config)
  family, _ = registry.get_family(config.model)
  strategy = strategies.make_strategy(config)
  source, _ = segments.load_sources(config, family)
  loop.set_precision(config)
  examples_per_step = config.batch_size * family.minibatches_per_step(config.hparams)
  results = {
      "model": config.model, "dataset": config.dataset, "batch_size": config.batch_size,
      "mixed_precision": config.mixed_precision,
      "hparams": config.hparams, "steps_timed": steps,
      "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, "
                 f"TensorFlow {tf.__version__}",
      "matmul_gflops": matmul_gflops(),
  }
  if config.mixed_precision != "none":
    # Under mixed precision the convolutions run in 16 bits: compare with a
    # matmul of that type too, not only with float32's.
    compute_dtype = tf.bfloat16 if config.mixed_precision == "mixed_bfloat16" else tf.float16
    results["matmul_16bit_gflops"] = matmul_gflops(dtype=compute_dtype)
  for xla in xla_modes:
    config.xla = xla
    state = loop.build_state(config, family, strategy, source.element_shape)
    dataset = strategy.distribute_datasets_from_function(
        data.input_fn(source, examples_per_step, config.seed))
    iterator = iter(dataset)
    train_function = loop.make_train_function(config, family, strategy, state, config.batch_size)
    seconds = _time_steps(train_function, iterator, steps)
    if "flops_per_step" not in results and not xla:
      results["flops_per_step"] = graph_flops(train_function.get_concrete_function(iterator))
    key = "xla" if xla else "no_xla"
    results[f"{key}_step_seconds"] = seconds
    results[f"{key}_images_per_sec"] = examples_per_step / seconds
  flops = results.get("flops_per_step")
  for key in ("no_xla", "xla"):
    if flops and f"{key}_step_seconds" in results:
      achieved = flops / results[f"{key}_step_seconds"] / 1e9
      results[f"{key}_gflops"] = achieved
      results[f"{key}_fraction_of_matmul"] = achieved / results["matmul_gflops"]
      if "matmul_16bit_gflops" in results:
        results[f"{key}_fraction_of_16bit_matmul"] = achieved / results["matmul_16bit_gflops"]
  results["input_images_per_sec"] = input_images_per_sec(source, examples_per_step, config.seed)
  fastest = max(results.get("xla_images_per_sec", 0), results.get("no_xla_images_per_sec", 0))
  results["input_headroom"] = results["input_images_per_sec"] / fastest
  return results


def format_report(results):
  lines = [f"benchmark: {results['model']} on {results['dataset']}, global batch "
           f"{results['batch_size']}, precision {results['mixed_precision']}, "
           f"{results['machine']}",
           f"  float32 matmul (roofline)   {results['matmul_gflops']:8.1f} GFLOP/s"]
  if "matmul_16bit_gflops" in results:
    lines.append(f"  16-bit matmul (roofline)    {results['matmul_16bit_gflops']:8.1f} GFLOP/s")
  if results.get("flops_per_step"):
    lines.append(f"  work per train step         {results['flops_per_step'] / 1e9:8.3f} GFLOP")
  for key, label in (("no_xla", "train, no XLA"), ("xla", "train, XLA")):
    if f"{key}_images_per_sec" in results:
      line = (f"  {label:<27} {results[f'{key}_images_per_sec']:8.1f} img/s  "
              f"{results[f'{key}_step_seconds'] * 1000:7.1f} ms/step")
      if f"{key}_gflops" in results:
        line += (f"  {results[f'{key}_gflops']:6.1f} GFLOP/s = "
                 f"{100 * results[f'{key}_fraction_of_matmul']:.0f}% of matmul")
        if f"{key}_fraction_of_16bit_matmul" in results:
          line += f" ({100 * results[f'{key}_fraction_of_16bit_matmul']:.0f}% of 16-bit)"
      lines.append(line)
  lines.append(f"  input pipeline alone        {results['input_images_per_sec']:8.1f} img/s  "
               f"({results['input_headroom']:.1f}x what training consumes)")
  return "\n".join(lines)


def measure_memory(recipe, steps=20):
  """Peak resident MB of `python -m keras_gen.train --recipe=...` (training, then export).

  Runs a real training process for `steps` steps in a temporary model_dir and
  reads the peak it reports, so the figure includes TensorFlow's own footprint.
  """
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

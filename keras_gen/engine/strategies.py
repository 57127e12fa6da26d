"""Builds the tf.distribute strategy a run asks for.

`--cpu_replicas=N` splits the host CPU into N logical devices before TensorFlow
initializes, so MirroredStrategy runs on a laptop or in CI exactly as it would
on N accelerators.
"""

import json
import os
from typing import NamedTuple

import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import machine


def split_cpu(num_replicas):
  """Splits the CPU into logical devices; must run before TensorFlow initializes."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  existing = tf.config.get_logical_device_configuration(cpu)
  if existing and len(existing) >= num_replicas:
    return
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_replicas)
  except RuntimeError as e:
    raise config_lib.ConfigError(
        f"--cpu_replicas={num_replicas} must be applied before TensorFlow initializes "
        f"its devices, and it already has ({e}).") from e


def _replica_devices(num_replicas):
  """The first `num_replicas` accelerators, else logical CPU devices."""
  for kind in ("GPU", "CPU"):
    devices = [d.name for d in tf.config.list_logical_devices(kind)]
    if devices and (kind == "CPU" or len(devices) >= max(num_replicas, 1)):
      return devices if not num_replicas else devices[:num_replicas]
  return None


def make_strategy(config):
  """Returns the tf.distribute.Strategy named by `config.strategy`."""
  if config.cpu_replicas > 1:
    split_cpu(config.cpu_replicas)
  if config.strategy == "default":
    return tf.distribute.get_strategy()
  if config.strategy == "one_device":
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
  if config.strategy == "mirrored":
    if tf.config.list_logical_devices("GPU"):
      return tf.distribute.MirroredStrategy()
    # Logical CPU devices share memory: reducing on one device costs nothing, and
    # unlike the collective all-reduce it keeps synchronized batch norm's
    # reductions and the gradient reduction from racing each other (replicas
    # issued them in different orders and aborted with a shape mismatch).
    return tf.distribute.MirroredStrategy(
        _replica_devices(config.cpu_replicas),
        cross_device_ops=tf.distribute.ReductionToOneDevice())
  if config.strategy == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise config_lib.ConfigError(
          "--strategy=multi_worker reads the cluster from the TF_CONFIG environment "
          "variable, which is not set.")
    try:
      json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as e:
      raise config_lib.ConfigError(f"TF_CONFIG is not valid JSON: {e}.") from e
    return tf.distribute.MultiWorkerMirroredStrategy()
  if config.strategy == "tpu":
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=config.tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
  raise config_lib.ConfigError(f"Unknown strategy {config.strategy!r}.")


def _runs_on_cpu(config):
  """True when the run computes on the host CPU: no TPU strategy and no GPU visible."""
  return config.strategy != "tpu" and not tf.config.list_physical_devices("GPU")


class PrecisionChoice(NamedTuple):
  """What `choose_precision` decided, and what the log should say about it."""
  precision: str    # A keras_gen.config.MIXED_PRECISION value other than 'auto'.
  note: str         # A sentence for the log; empty when there is nothing to say.
  is_warning: bool  # The note goes to stderr as a warning.


def choose_precision(config):
  """The PrecisionChoice for the precision `config.mixed_precision` asks for, 'auto' resolved.

  'auto' is mixed_bfloat16 where bfloat16 is native: a TPU, or a CPU-only run on a CPU with
  AVX-512 BF16 or AMX. Elsewhere it is float32 ('none'): without those instructions
  TensorFlow's CPU kernels emulate bfloat16, and a DCGAN step ran 7x slower than in float32
  on a 2-core AVX2 AMD EPYC (see README's Benchmark); on a GPU mixed_float16 is the usual
  choice, which loss scaling makes explicit, so auto leaves it to the user.
  """
  precision = config.mixed_precision
  on_cpu = _runs_on_cpu(config)
  info, native = machine.describe(), machine.has_native_bfloat16()
  cpu = info["cpu"]
  if precision == "auto":
    if config.strategy == "tpu":
      return PrecisionChoice(
          "mixed_bfloat16", "Precision auto: mixed_bfloat16 (a TPU computes bfloat16 natively).",
          False)
    if not on_cpu:
      return PrecisionChoice("none", "Precision auto: float32 on the GPU (pass "
                             "--mixed_precision=mixed_float16 to use its half-precision units).",
                             False)
    if native:
      return PrecisionChoice("mixed_bfloat16",
                             f"Precision auto: mixed_bfloat16 ({cpu} has native bfloat16).", False)
    note = (f"Precision auto: float32 ({cpu} has no native bfloat16, AVX-512 BF16 or AMX, so "
            f"bfloat16 would be emulated).")
    if not config.xla and "avx512f" not in info["cpu_flags"]:
      note += (" Without AVX-512, --xla may be faster: it ran the DCGAN recipes' steps 1.5x "
               "faster on a 2-core AVX2 AMD EPYC (tools/benchmark.py times both here).")
    return PrecisionChoice("none", note, False)
  if precision == "mixed_bfloat16" and on_cpu and not config.xla and not native:
    return PrecisionChoice(precision, (
        f"Warning: --mixed_precision=mixed_bfloat16 on {cpu}, which has no native bfloat16 "
        f"(AVX-512 BF16 or AMX): TensorFlow emulates it, several times slower than float32 "
        f"without --xla; --mixed_precision=auto or none avoids it (tools/benchmark.py times "
        f"each)."), True)
  return PrecisionChoice(precision, "", False)


# What README's Benchmark measured XLA to do to a CPU step, quoted by every XLA note.
_XLA_ON_AVX512 = "XLA ran the DCGAN and WGAN-GP steps 2-22% slower"
_XLA_ON_AVX2 = "XLA ran the DCGAN, WGAN-GP and Progressive GAN steps 1.2-1.85x faster"


class XlaChoice(NamedTuple):
  """What `choose_xla` decided, and what the log should say about it."""
  xla: bool   # Whether the per-replica step is compiled with XLA.
  note: str   # A sentence for the log; empty when there is nothing to say.


def choose_xla(config):
  """The XlaChoice for `config.xla` (True, False or 'auto'), 'auto' resolved.

  XLA is a per-machine choice. On a 2-core AVX2 AMD EPYC it ran the DCGAN,
  WGAN-GP and Progressive GAN steps 1.2-1.85x faster; on the AVX-512 CPUs
  measured it ran the DCGAN and WGAN-GP steps 2-22% slower (README's
  Benchmark). So 'auto' compiles a single-replica CPU run on a CPU without
  AVX-512 and nothing else: a GPU was not measured, a TPU compiles every step
  anyway, and tf.distribute compiles a step with one replica only. An explicit
  --xla on an AVX-512 CPU is kept, with a note saying that it was the slower path.
  """
  info = machine.describe()
  cpu, has_avx512 = info["cpu"], "avx512f" in info["cpu_flags"]
  if config.xla == "auto":
    if config.strategy == "tpu":
      return XlaChoice(False, "XLA auto: off (TPUStrategy compiles every step with XLA anyway).")
    if config.strategy in ("mirrored", "multi_worker"):
      return XlaChoice(False, "XLA auto: off (tf.distribute compiles a step with XLA only with "
                              "one replica).")
    if not _runs_on_cpu(config):
      return XlaChoice(False, "XLA auto: off on the GPU (not measured there; --xla turns it on).")
    if has_avx512:
      return XlaChoice(False, f"XLA auto: off ({cpu} has AVX-512, where {_XLA_ON_AVX512}; "
                              f"tools/benchmark.py times both here).")
    return XlaChoice(True, f"XLA auto: on ({cpu} has no AVX-512; on an AVX2 CPU {_XLA_ON_AVX2}).")
  if config.xla and _runs_on_cpu(config) and has_avx512:
    return XlaChoice(True, (
        f"--xla on {cpu}, which has AVX-512: on the AVX-512 CPUs measured {_XLA_ON_AVX512} "
        f"than without it (it is faster on AVX2 CPUs); --noxla turns it off, and "
        f"tools/benchmark.py times both here."))
  return XlaChoice(bool(config.xla), "")


def is_chief(strategy):
  """True on the worker that writes summaries, samples and exports."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0)


def barrier(strategy):
  """Waits for every worker; a worker that exits early makes the others' collectives fail."""
  if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    return
  tf.function(lambda: strategy.reduce(
      tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.constant(1.0)), axis=None))()

"""Builds the tf.distribute strategy a run asks for, and resolves --xla and --mixed_precision.

`--cpu_replicas=N` splits the host CPU into N logical devices before TensorFlow initializes, so
MirroredStrategy runs on a laptop or in CI exactly as it would on N accelerators."""

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


def make_strategy(config):
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
    # Logical CPU devices share memory, so reducing on one device costs nothing; unlike the
    # collective all-reduce it keeps the reductions of synchronized batch norm and of the gradients
    # from racing (replicas issued them in different orders and aborted with a shape mismatch).
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(
        cpus[:config.cpu_replicas] if config.cpu_replicas else cpus,
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


# The measured cases that 'auto' follows, beside the benchmark that records them
# (`tools/benchmark.py --record_policy`).
MEASURED_POLICY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                               "bench", "measured_policy.json")
_MODE_WORDS = {"on": "with XLA", "off": "without XLA", "none": "in float32",
               "mixed_bfloat16": "in mixed_bfloat16"}


def cpu_class(choice, flags):
  """The CPU features a measured `choice` ('xla' or 'precision') carries over between CPUs:
  AVX2, and AVX-512 for XLA or native bfloat16 for precision."""
  flags = set(flags)
  return ("avx2" in flags,
          "avx512f" in flags if choice == "xla" else machine.has_native_bfloat16(flags))


def measured_choice(choice, flags, model=None):
  """(the faster mode, the case to cite: the newest of `model`'s, else the newest) for a CPU
  with `flags`; (None, None) when no case covers its class or the cases disagree."""
  with open(MEASURED_POLICY) as f:
    cases = [case for case in json.load(f)["cases"] if case["choice"] == choice
             and cpu_class(choice, case["cpu_flags"]) == cpu_class(choice, flags)]
  if len({case["faster"] for case in cases}) != 1:
    return None, None
  own = [case for case in cases if case.get("model") == model]
  newest = max(own or cases, key=lambda case: case["date"])
  return newest["faster"], newest


def cite(case):
  """A measured case in one clause, for the notes that follow it."""
  faster = case["faster"]
  (slower,) = set(case["step_ms"]) - {faster}
  _, has_feature = cpu_class(case["choice"], case["cpu_flags"])
  kind = {"xla": ("AVX2 and no AVX-512", "AVX-512"),
          "precision": ("no native bfloat16", "native bfloat16")}[case["choice"]][has_feature]
  return (f"{case['recipe']} ({case['setting']}) {case['step_ms'][faster]} ms/step "
          f"{_MODE_WORDS[faster]}, {case['step_ms'][slower]} {_MODE_WORDS[slower]}, on "
          f"{case['cpu']} with {kind}, TensorFlow {case['tensorflow']}, {case['date']}")


def _uncovered(cpu, default):
  return (f"{default}: no measured case covers {cpu}; `python tools/benchmark.py "
          f"--recipe=dcgan_fashion_mnist --record_policy` measures one")


class PrecisionChoice(NamedTuple):
  """What `choose_precision` decided, and what the log should say about it."""
  precision: str            # A keras_gen.config.MIXED_PRECISION value other than 'auto'.
  note: str = ""            # A sentence for the log; empty when there is nothing to say.
  is_warning: bool = False  # The note goes to stderr as a warning.


def choose_precision(config):
  """The PrecisionChoice for `config.mixed_precision`, 'auto' resolved: bfloat16 on a TPU,
  float32 on a GPU (mixed_float16 needs loss scaling, so it is left to the user), and on a
  CPU what MEASURED_POLICY found faster on its class."""
  precision = config.mixed_precision
  on_cpu = _runs_on_cpu(config)
  info = machine.describe()
  cpu, flags = info["cpu"], info["cpu_flags"]
  if precision == "auto":
    if config.strategy == "tpu":
      return PrecisionChoice(
          "mixed_bfloat16", "Precision auto: mixed_bfloat16 (a TPU computes bfloat16 natively).")
    if not on_cpu:
      return PrecisionChoice("none", "Precision auto: float32 on the GPU (pass "
                             "--mixed_precision=mixed_float16 to use its half-precision units).")
    faster, case = measured_choice("precision", flags, config.model)
    if faster is None:
      return PrecisionChoice("none", f"Precision auto: {_uncovered(cpu, 'float32')}.")
    note = f"Precision auto: {'float32' if faster == 'none' else faster} (measured: {cite(case)})."
    xla_faster, xla_case = measured_choice("xla", flags, config.model)
    if not config.xla and xla_faster == "on":
      note += f" --xla may be faster here: {cite(xla_case)}."
    return PrecisionChoice(faster, note)
  if (precision == "mixed_bfloat16" and on_cpu and not config.xla
      and not machine.has_native_bfloat16(set(flags))):
    _, case = measured_choice("precision", flags, config.model)
    measured = f" (measured: {cite(case)})" if case else ""
    return PrecisionChoice(precision, (
        f"Warning: --mixed_precision=mixed_bfloat16 on {cpu}, which has no native bfloat16 "
        f"(AVX-512 BF16 or AMX): TensorFlow emulates it{measured}; --mixed_precision=auto or "
        f"none avoids it."), is_warning=True)
  return PrecisionChoice(precision)


class XlaChoice(NamedTuple):
  """What `choose_xla` decided, and what the log should say about it."""
  xla: bool   # Whether the per-replica step is compiled with XLA.
  note: str   # A sentence for the log; empty when there is nothing to say.


def choose_xla(config):
  """The XlaChoice for `config.xla` (True, False or 'auto'), 'auto' resolved: off for a TPU
  (it compiles every step anyway), several replicas (tf.distribute compiles a step with one
  replica only) and a GPU (not measured); on a CPU, what MEASURED_POLICY found faster on its
  class. An explicit --xla where it was measured slower is kept, with a note."""
  info = machine.describe()
  cpu, flags = info["cpu"], info["cpu_flags"]
  if config.xla == "auto":
    if config.strategy == "tpu":
      return XlaChoice(False, "XLA auto: off (TPUStrategy compiles every step with XLA anyway).")
    if config.strategy in ("mirrored", "multi_worker"):
      return XlaChoice(False, "XLA auto: off (tf.distribute compiles a step with XLA only with "
                              "one replica).")
    if not _runs_on_cpu(config):
      return XlaChoice(False, "XLA auto: off on the GPU (not measured there; --xla turns it on).")
    faster, case = measured_choice("xla", flags, config.model)
    if faster is None:
      return XlaChoice(False, f"XLA auto: {_uncovered(cpu, 'off')}.")
    return XlaChoice(faster == "on", f"XLA auto: {faster} (measured: {cite(case)}).")
  if config.xla and _runs_on_cpu(config):
    faster, case = measured_choice("xla", flags, config.model)
    if faster == "off":
      return XlaChoice(True, f"--xla on {cpu}, where XLA was measured slower: {cite(case)}; "
                             f"--noxla turns it off.")
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

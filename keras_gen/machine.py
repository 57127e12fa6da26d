"""What a measured figure ran on: the CPU and its relevant flags, the software (`describe`), and
the cores other processes used meanwhile (`OtherLoad`), so that "idle" is measured."""

import functools
import os
import platform
import resource
import sys
import time

# The flags that change which kernels TensorFlow's oneDNN can use here.
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16",
                  "amx_int8")
# Other processes using less than this many cores on average count as idle.
IDLE_CORES = 0.1


@functools.lru_cache(maxsize=None)
def _cpuinfo(path="/proc/cpuinfo"):
  """(model name, flags, 'AuthenticAMD family 26 model 2 stepping 1') of the first CPU."""
  try:
    with open(path) as f:
      text = f.read()
  except OSError:
    return platform.processor() or platform.machine(), frozenset(), ""
  fields = {}  # The first CPU's, as each field repeats for every CPU.
  for line in text.splitlines():
    key, _, value = line.partition(":")
    fields.setdefault(key.strip(), value.strip())
  flags = frozenset(fields.get("flags", "").split())
  signature = ""
  if "vendor_id" in fields and "cpu family" in fields:
    signature = (f"{fields['vendor_id']} family {fields['cpu family']} model "
                 f"{fields.get('model', '?')} stepping {fields.get('stepping', '?')}")
  return fields.get("model name") or platform.machine(), flags, signature


def has_native_bfloat16(flags=None):
  """True when the CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX)."""
  flags = _cpuinfo()[1] if flags is None else flags
  return bool({"avx512_bf16", "amx_bf16"} & flags)


def describe(cpuinfo_path="/proc/cpuinfo"):
  """The CPU (model, signature, cores, relevant flags), Python and TensorFlow versions."""
  model, flags, signature = _cpuinfo(cpuinfo_path)
  info = dict(cpu=model, cpu_signature=signature, cores=os.cpu_count(),
              cpu_flags=[flag for flag in RELEVANT_FLAGS if flag in flags],
              no_amx=not any(flag.startswith("amx") for flag in flags),
              python=platform.python_version())
  tensorflow = sys.modules.get("tensorflow")
  if tensorflow is not None:
    info["tensorflow"] = tensorflow.__version__
    info["intra_op_threads"] = intra_op_threads(tensorflow)
  return info


def intra_op_threads(tensorflow):
  """TensorFlow's intra-op thread count, or "default"; float32 results can depend on it."""
  threads = (tensorflow.config.threading.get_intra_op_parallelism_threads()
             or int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0") or 0))
  return threads or "default"


def summary(info=None):
  """One line: 'AMD EPYC, 2 cores (avx512f, avx512_bf16; no AMX), Python 3.11.7, TensorFlow 2.21.0'."""
  info = info or describe()
  flags = ", ".join(info["cpu_flags"]) or "no AVX-512"
  if info["no_amx"]:
    flags += "; no AMX"
  line = f"{info['cpu']}, {info['cores']} cores ({flags}), Python {info['python']}"
  if "tensorflow" in info:
    line += f", TensorFlow {info['tensorflow']}"
  return line


def _busy_seconds():
  with open("/proc/stat") as f:
    fields = f.readline().split()[1:]
  user, nice, system, _, _, irq, softirq, steal = (int(value) for value in fields[:8])
  return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds():
  own = resource.getrusage(resource.RUSAGE_SELF)
  children = resource.getrusage(resource.RUSAGE_CHILDREN)
  return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class OtherLoad:
  """Cores used by other processes between start() and stop(); None where /proc is missing."""

  def start(self):
    try:
      self._start = (time.monotonic(), _busy_seconds(), _own_seconds())
    except (OSError, ValueError):
      self._start = None
    return self

  def stop(self):
    if self._start is None:
      return None
    try:
      now = (time.monotonic(), _busy_seconds(), _own_seconds())
    except (OSError, ValueError):
      return None
    elapsed = now[0] - self._start[0]
    if elapsed <= 0:
      return 0.0
    others = (now[1] - self._start[1]) - (now[2] - self._start[2])
    return max(others / elapsed, 0.0)


def load_note(other_cores):
  """'idle (other processes used 0.02 cores on average)', or 'shared (...)'."""
  if other_cores is None:
    return "load not measured"
  state = "idle" if other_cores < IDLE_CORES else "shared"
  return f"{state} (other processes used {other_cores:.2f} cores on average)"

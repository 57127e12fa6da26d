"""The memory one training step needs, estimated before anything is allocated or written, so
that a batch or networks too large for the machine are refused in one sentence instead of an
out-of-memory kill (what it counts: docs/training.md, "Memory check")."""

import contextlib
import copy
import dataclasses
import math
import os
import pathlib

import keras
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen.engine import strategies

# The peak resident memory of the DCGAN recipe's step at 32x32 grew by 1.9 times the float32
# outputs of G's and D's layers per example (batches of 256 to 2,048 on the 2-core EPYC),
# the same under mixed bfloat16 (Keras keeps normalization and its inputs in float32); by
# 2.5 times for WGAN-GP's gradient penalty (a second backward pass) and 2.7 times under XLA.
# The gradients and the operations between layers (activation functions, normalization)
# make the rest. 3 covers all of them; on Progressive GAN at 64x64 with CelebA-HQ's widths
# it gave 108 MB per example where the peak grew by 113 MB, so it is no wide margin there.
BACKPROP_FACTOR = 3.0
INPUT_BATCHES = 2  # The batch a step reads and the one prefetched.
# What the process grew by from the check to its peak beyond the weights and activations (the
# traced step, tf.data's buffers, the runtime): 156 and 157 MB for 20 steps of
# dcgan_fashion_mnist and dcgan_emoji without --metrics (TensorFlow 2.21, 2026-12-06).
RUNTIME_BYTES = 160 * 2 ** 20
FLOAT32_BYTES = 4


@dataclasses.dataclass
class Estimate:
  """Bytes one step needs, and what the refusal names."""
  weights: int
  activations: int
  batch_size: int            # Of the segment with the most activations.
  side: int | None           # Its image side for a growing model, else None.
  largest_network: str       # The network with the most parameters,
  largest_parameters: int    # and how many.

  @property
  def total(self):
    return self.weights + self.activations + RUNTIME_BYTES


def check(config, family, element_shape, strategy):
  """Raises ConfigError (`refusal`) when the step of `config` needs more memory than this
  host has available; does nothing where the step runs on an accelerator (whose memory
  TensorFlow manages and reports itself) or the available memory cannot be read."""
  if not strategies._runs_on_cpu(config):  # pylint: disable=protected-access
    return
  if (available := available_bytes()) is None:
    return
  try:
    devices = len(strategy.extended.worker_devices)
  except RuntimeError:  # The default strategy: one device.
    devices = 1
  estimate = estimate_step(config, family, element_shape, devices,
                           devices / strategy.num_replicas_in_sync)
  if estimate.total > available:
    raise config_lib.ConfigError(refusal(config, estimate, available))


def refusal(config, estimate, available):
  """The sentence refusing `estimate`, naming what to lower: the batch or the networks."""
  figures = (f"about {format_bytes(estimate.total)} for one {config.model} step (weights "
             f"{format_bytes(estimate.weights)}, activations {format_bytes(estimate.activations)}, "
             f"runtime {format_bytes(RUNTIME_BYTES)}), more than the {format_bytes(available)} "
             f"this machine has available")
  if estimate.weights > estimate.activations:
    return (f"The networks of these --hparams ({estimate.largest_network} has "
            f"{estimate.largest_parameters:,} parameters) need {figures}; make them smaller "
            f"in --hparams.")
  if estimate.side is not None:
    return (f"The minibatch of {estimate.batch_size} at {estimate.side}x{estimate.side} "
            f"needs {figures}; lower minibatch_default or minibatch_overrides in --hparams.")
  return f"--batch_size={config.batch_size} needs {figures}; lower --batch_size."


def estimate_step(config, family, element_shape, devices=1, batch_fraction=1.0):
  """The Estimate of one step of `config` (hparams resolved) on `element_shape` data.

  devices: replica devices on this host, each holding a copy of the weights;
  batch_fraction: the share of the global batch they compute (below 1 with several workers).
  """
  networks, optimizers = _symbolic_networks(config, family, element_shape)
  network_variables = _unique(v for network in networks.values() for v in network.variables)
  trained = _unique(v for _, variables in optimizers for v in variables)
  slots = _unique(v for optimizer, _ in optimizers for v in optimizer.variables)
  copies = 2 if config.on_nonfinite == "skip" else 1  # The step transaction keeps a copy.
  weights = ((_bytes(network_variables) + _bytes(slots)) * copies + _bytes(trained)) * devices
  trained_ids = {id(v) for v in trained}
  outputs = [shape for network in networks.values()
             if any(id(v) in trained_ids for v in network.variables)
             for layer in _leaf_layers(network) for shape in _output_shapes(layer)]
  activations, batch_size, side = 0, config.batch_size, None
  for segment_side, batch, examples in _segments(config, family, element_shape):
    per_example = sum(math.prod(shape[1:]) for shape in outputs
                      if segment_side is None or len(shape) < 4 or shape[1] <= segment_side)
    input_shape = ((segment_side, segment_side) + tuple(element_shape[2:])
                   if segment_side else tuple(element_shape))
    segment = FLOAT32_BYTES * batch_fraction * (
        BACKPROP_FACTOR * batch * per_example + INPUT_BATCHES * examples * math.prod(input_shape))
    if segment > activations:
      activations, batch_size, side = int(segment), batch, segment_side
  sizes = {name: sum(math.prod(v.shape) for v in network.variables)
           for name, network in networks.items()}
  largest = max(sizes, key=sizes.get) if sizes else ""
  return Estimate(weights, activations, batch_size, side, largest, sizes.get(largest, 0))


def _segments(config, family, element_shape):
  """(image side or None, minibatch, examples read) of each segment the run may have."""
  if family.resolutions is None:
    return [(None, config.batch_size,
             config.batch_size * family.minibatches_per_step(config.hparams))]
  return [(side, batch_size, batch_size)
          for side, batch_size in family.resolutions(config.hparams, tuple(element_shape))]


def _symbolic_networks(config, family, element_shape):
  """The family's networks and built optimizers [(optimizer, variables)], in a graph that
  is never run: every shape, no buffer."""
  with tf.Graph().as_default(), _keras_state_kept():
    try:
      networks = family.build(config.hparams, tuple(element_shape))
    except ValueError as e:
      raise config_lib.ConfigError(f"Model {config.model!r}: {e}") from e
    optimizers = list(family.optimizers(config.hparams, networks).values())
    for optimizer, variables in optimizers:
      optimizer.build(variables)
  return networks, optimizers


@contextlib.contextmanager
def _keras_state_kept():
  """Keeps Keras' layer-name counter and global seed generator as they were, so the run's
  own networks get the names (G/dense/kernel) and draws they would get without the estimate.
  Keras has no public API for either."""
  try:
    from keras.src.backend.common import global_state  # pylint: disable=g-import-not-at-top
  except ImportError:
    yield
    return
  saved = {"object_name_uids": copy.copy(global_state.get_global_attribute("object_name_uids")),
           "global_seed_generator": global_state.get_global_attribute("global_seed_generator")}
  try:
    yield
  finally:
    for name, value in saved.items():
      global_state.set_global_attribute(name, value)


def _unique(variables):
  return list({id(variable): variable for variable in variables}.values())


def _bytes(variables):
  return sum(math.prod(v.shape) * tf.as_dtype(v.dtype).size for v in variables)


def _leaf_layers(network):
  # pylint: disable=protected-access  (Keras lists a model's layers recursively only so)
  return [layer for layer in network._flatten_layers(include_self=False)
          if not any(True for _ in layer._flatten_layers(include_self=False))]


def _output_shapes(layer):
  """The shapes of what `layer` returned on the call that built it, [batch, ...] each (none
  for a layer that builds nothing: reshapes and flattens, which are views)."""
  if not (build_shapes := getattr(layer, "_build_shapes_dict", None)):
    return []
  try:
    spec = layer.compute_output_spec(*[keras.KerasTensor(shape)
                                       for shape in build_shapes.values()])
  except Exception:  # pylint: disable=broad-except  (a layer Keras cannot infer counts 0)
    return []
  return [tuple(tensor.shape) for tensor in keras.tree.flatten(spec)
          if len(tensor.shape) > 1 and None not in tensor.shape[1:]]


def available_bytes():
  """The memory this process can still take: /proc/meminfo's MemAvailable, lowered to what a
  cgroup limit leaves (v2 memory.max - memory.current, or v1 memory.limit_in_bytes -
  memory.usage_in_bytes); None where neither can be read."""
  available = []
  with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as f:
    available += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
  for folder, limit_file, usage_file in _cgroup_files():
    try:
      limit = pathlib.Path(folder, limit_file).read_text().strip()
      usage = int(pathlib.Path(folder, usage_file).read_text())
    except (OSError, ValueError):
      continue
    if limit.isdigit() and int(limit) < 2 ** 60:  # "max", or v1's page-rounded 2^63: none.
      available.append(max(int(limit) - usage, 0))
  return min(available) if available else None


def _cgroup_files():
  """(folder, limit file, usage file) of this process's memory cgroups, v2 and v1, each at
  its path in /proc/self/cgroup and at the mount's root (a container's own cgroup)."""
  paths = {"": "/", "memory": "/"}
  with contextlib.suppress(OSError, ValueError), open("/proc/self/cgroup") as f:
    for line in f:
      _, controllers, path = line.rstrip("\n").split(":", 2)
      if controllers in paths:
        paths[controllers] = path
  v2 = ("/sys/fs/cgroup", "memory.max", "memory.current")
  v1 = ("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes")
  return [(os.path.join(root, path.lstrip("/")), limit, usage)
          for (root, limit, usage), path in ((v2, paths[""]), (v1, paths["memory"]))
          for path in {path, "/"}]


def format_bytes(count):
  """'12 MB', '4.5 GB', '41 GB', '6.1 TB' (binary units, as `free` and the loop's peak memory)."""
  for unit, scale in (("TB", 2 ** 40), ("GB", 2 ** 30)):
    if count >= scale:
      value = count / scale
      return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
  return f"{max(count / 2 ** 20, 1):.0f} MB"

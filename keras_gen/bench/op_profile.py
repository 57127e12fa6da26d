"""Where a training step's time goes: the work it executes, op by op.

TensorFlow's profiler counts every op of a traced step, also ops that Grappler
prunes before running (D's weight gradients inside G's update, the gradient
with respect to the real images' first convolution). `executed_flops` counts
only the live ops: those an output or a side effect (a variable write, an
optimizer update) depends on, which are the ops that run.

`time_heavy_ops` then re-runs each live convolution and matmul alone, with the
shapes, types and attributes it has in the step, and times it, so a benchmark
can say how much of the step the arithmetic takes and at what rate each
kernel runs, and how much is left for everything else (batch norm,
activations, optimizer updates, the step's own overhead).
"""

import collections
import functools
import time

import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops  # For the registered FLOP statistics.
from tensorflow.python.profiler.internal import flops_registry  # pylint: disable=unused-import

from keras_gen import tf_startup

# Ops whose arithmetic dominates a convolutional step; the rest is memory-bound.
HEAVY_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MatMul", "BatchMatMulV2",
             "DepthwiseConv2dNative")

OpWork = collections.namedtuple("OpWork", ["name", "type", "shapes", "dtype", "flops"])


def _function_graphs(graph):
  """The graph and the graphs of the functions it calls (cond branches, nested steps)."""
  graphs, seen, pending = [], set(), [graph]
  while pending:
    current = pending.pop()
    graphs.append(current)
    for name, function in getattr(current, "_functions", {}).items():
      if name not in seen and hasattr(function, "graph"):
        seen.add(name)
        pending.append(function.graph)
  return graphs


def live_ops(graph):
  """Ops of `graph` that an output or a stateful op depends on (what Grappler keeps)."""
  roots = [tensor.op for tensor in graph.outputs] + list(graph.control_outputs)
  roots += [op for op in graph.get_operations() if op._is_stateful and op.type not in  # pylint: disable=protected-access
            ("VarHandleOp", "Placeholder")]
  live, pending = set(), list(roots)
  while pending:
    op = pending.pop()
    if op in live:
      continue
    live.add(op)
    pending.extend(tensor.op for tensor in op.inputs)
    pending.extend(op.control_inputs)
  return [op for op in graph.get_operations() if op in live]


def _flops(graph, op):
  try:
    with tf_startup.python_warnings_hidden():
      return tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
  except (ValueError, TypeError):
    return 0


def heavy_work(concrete_function):
  """[OpWork] for every live heavy op of the step, nested function graphs included."""
  work = []
  for graph in _function_graphs(concrete_function.graph):
    for op in live_ops(graph):
      if op.type in HEAVY_OPS:
        shapes = [tuple(tensor.shape.as_list()) for tensor in op.inputs]
        work.append(OpWork(op.name, op.type, shapes, op.outputs[0].dtype, _flops(graph, op)))
  return work


def executed_flops(concrete_function):
  """Floating-point operations of the live heavy ops (multiply-adds count 2)."""
  return sum(item.flops for item in heavy_work(concrete_function))


def all_flops(concrete_function):
  """The profiler's count: every op in the traced graph, pruned or not."""
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  with tf_startup.python_warnings_hidden():
    return int(tf.compat.v1.profiler.profile(concrete_function.graph,
                                             options=options).total_float_ops)


def _replay(op, repeats):
  """A function running `op` alone `repeats` times on random inputs of its shapes.

  Each repeat gets its own inputs, passed in as arguments: with one shared
  constant input Grappler would fold the op at optimization time or merge the
  identical repeats into one, and the timing would measure neither.
  """
  attrs = {name: op.get_attr(name) for name in op.node_def.attr if name != "T"}
  names = [arg.name for arg in op.op_def.input_arg]
  attrs = {name: value for name, value in attrs.items()
           if name in {attr.name for attr in op.op_def.attr}}
  raw = getattr(tf.raw_ops, op.type)

  def inputs(repeat):
    values = []
    for tensor in op.inputs:
      if tensor.dtype == tf.int32:  # input_sizes or filter_sizes: the shape the op makes.
        values.append(tf.constant(op.outputs[0].shape.as_list(), tf.int32))
      else:
        values.append(tf.cast(tf.random.stateless_normal(tensor.shape, seed=[1, repeat]),
                              tensor.dtype))
    return values

  arguments = [inputs(repeat) for repeat in range(repeats)]

  @tf.function
  def run(arguments):
    total = tf.zeros([], tf.float32)
    for values in arguments:
      result = raw(**dict(zip(names, values)), **attrs)
      total += tf.cast(tf.reduce_sum(result[..., :1]), tf.float32)
    return total

  return functools.partial(run, arguments)


def time_heavy_ops(concrete_function, repeats=10):
  """Seconds per call of each live heavy op run alone: [(OpWork, seconds)]."""
  graph_ops = {op.name: op for graph in _function_graphs(concrete_function.graph)
               for op in graph.get_operations()}
  timings = []
  for item in heavy_work(concrete_function):
    run = _replay(graph_ops[item.name], repeats)
    run().numpy()
    best = float("inf")
    for _ in range(3):
      start = time.perf_counter()
      run().numpy()
      best = min(best, (time.perf_counter() - start) / repeats)
    timings.append((item, best))
  return timings

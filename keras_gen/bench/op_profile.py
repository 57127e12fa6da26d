"""Where a training step's time goes: `executed_flops` counts live ops only (TensorFlow's profiler
also counts what Grappler prunes); `time_heavy_ops` replays and times each heavy op alone."""

import collections
import functools
import timeit

import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops  # For the registered FLOP statistics.
from tensorflow.python.profiler.internal import flops_registry  # pylint: disable=unused-import

from keras_gen import tf_startup

# Ops whose arithmetic dominates a convolutional step; the rest is memory-bound.
HEAVY_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MatMul", "BatchMatMulV2",
             "DepthwiseConv2dNative")

OpWork = collections.namedtuple("OpWork", ["name", "type", "shapes", "dtype", "flops"])


def function_graphs(graph):
  """[(name, graph)] of `graph` (name None) and of every function it calls, nested ones too."""
  graphs, seen, pending = [], set(), [(None, graph)]
  while pending:
    current = pending.pop()
    graphs.append(current)
    for name, function in getattr(current[1], "_functions", {}).items():
      if name not in seen and hasattr(function, "graph"):
        seen.add(name)
        pending.append((name, function.graph))
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
  return [OpWork(op.name, op.type, [tuple(tensor.shape.as_list()) for tensor in op.inputs],
                 op.outputs[0].dtype, _flops(graph, op))
          for _, graph in function_graphs(concrete_function.graph)
          for op in live_ops(graph) if op.type in HEAVY_OPS]


def executed_flops(concrete_function):
  """Floating-point operations of the live heavy ops (multiply-adds count 2)."""
  return sum(item.flops for item in heavy_work(concrete_function))


def all_flops(concrete_function):
  """The profiler's count: every op in the traced graph, pruned or not."""
  options = dict(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation(), output="none")
  with tf_startup.python_warnings_hidden():
    return int(tf.compat.v1.profiler.profile(concrete_function.graph,
                                             options=options).total_float_ops)


def _replay(op, repeats):
  """`op` alone `repeats` times, each on its own random arguments, which Grappler cannot fold."""
  known = {attr.name for attr in op.op_def.attr}
  attrs = {name: op.get_attr(name) for name in op.node_def.attr if name != "T" and name in known}
  names = [arg.name for arg in op.op_def.input_arg]
  raw = getattr(tf.raw_ops, op.type)

  def inputs(repeat):
    # An int32 input is input_sizes or filter_sizes: the shape the op makes.
    return [tf.constant(op.outputs[0].shape.as_list(), tf.int32) if tensor.dtype == tf.int32
            else tf.cast(tf.random.stateless_normal(tensor.shape, seed=[1, repeat]), tensor.dtype)
            for tensor in op.inputs]

  arguments = [inputs(repeat) for repeat in range(repeats)]

  @tf.function
  def run(arguments):
    total = tf.zeros([], tf.float32)
    for values in arguments:
      result = raw(**dict(zip(names, values)), **attrs)
      total += tf.cast(tf.reduce_sum(result[..., :1]), tf.float32)
    return total

  return functools.partial(run, arguments)


def best_seconds(run, rounds=3):
  """The fastest of `rounds` timed calls of `run` (its numpy() awaited), after an untimed one."""
  run().numpy()
  return min(timeit.repeat(lambda: run().numpy(), repeat=rounds, number=1))


def time_heavy_ops(concrete_function, repeats=10):
  """Seconds per call of each live heavy op run alone: [(OpWork, seconds)]."""
  graph_ops = {op.name: op for _, graph in function_graphs(concrete_function.graph)
               for op in graph.get_operations()}
  return [(item, best_seconds(_replay(graph_ops[item.name], repeats)) / repeats)
          for item in heavy_work(concrete_function)]

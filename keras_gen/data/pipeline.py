"""The tf.data input pipeline: a deterministic, resumable stream of batches whose order is a
pure function of (seed, step), so no iterator is checkpointed (docs/data.md, "The input order").

Batches are {"images": float32 [b, H, W, C] in [-1, 1]} or {"points": float32 [b, 2]}, plus
"labels": int64 [b] when the source has labels.
"""

from __future__ import annotations

import numbers
from typing import Callable

import numpy as np

from keras_gen.data.errors import DataError
from keras_gen.data.pixels import from_uint8
from keras_gen.data.sources import Source
from keras_gen.lazy import tensorflow as tf


def input_fn(source: Source, global_batch_size: int, seed: int, start_step: int = 0,
             minibatches: int = 1) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
  """The input function for `strategy.distribute_datasets_from_function`: global batches
  start_step, start_step + 1, ... of the stream above; with `minibatches` k each replica's
  batch holds, in k parts, its rows of the step's k minibatches (docs/data.md)."""
  # numbers.Integral admits numpy integers, e.g. a step read from a checkpoint.
  if not isinstance(global_batch_size, numbers.Integral) or global_batch_size < 1:
    raise DataError(f"Global batch size {global_batch_size!r} is not a positive integer.")
  if not isinstance(start_step, numbers.Integral) or start_step < 0:
    raise DataError(f"Start step {start_step!r} is not a non-negative integer.")
  global_batch_size, start_step = int(global_batch_size), int(start_step)
  num_examples = len(source.examples)
  first_epoch, first_offset = divmod(start_step * global_batch_size, num_examples)

  def dataset_fn(input_context: tf.distribute.InputContext) -> tf.data.Dataset:
    num_replicas = input_context.num_replicas_in_sync
    if global_batch_size % num_replicas:
      raise DataError(f"Global batch size {global_batch_size} is not divisible by the "
                      f"{num_replicas} replicas in sync.")
    per_replica_batch_size = input_context.get_per_replica_batch_size(global_batch_size)
    indices = _index_stream(num_examples, seed, first_epoch, first_offset)
    if minibatches > 1:
      indices = _deal_minibatches(indices, global_batch_size, minibatches, num_replicas)
    indices = indices.batch(per_replica_batch_size, drop_remainder=True)
    indices = indices.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    dataset = _gather(source, indices)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(tf.data.INFINITE_CARDINALITY))
    return dataset.prefetch(tf.data.AUTOTUNE)

  return dataset_fn


def _deal_minibatches(indices, global_batch_size, minibatches, num_replicas):
  """Reorders each step's indices from [minibatch, replica, row] to [replica, minibatch, row]."""
  if global_batch_size % (minibatches * num_replicas):
    raise DataError(f"{global_batch_size} examples per step do not split into {minibatches} "
                    f"minibatches of equal shares for {num_replicas} replicas.")
  rows = global_batch_size // (minibatches * num_replicas)
  # A gather by a fixed permutation, not a transpose: TensorFlow 2.21 logs an error line
  # ("oneDNN supports DT_INT64 only on platforms with AVX-512") for an int64 Transpose.
  order = np.arange(global_batch_size).reshape(minibatches, num_replicas, rows)
  order = tf.constant(order.transpose(1, 0, 2).reshape(-1), tf.int32)
  return indices.batch(global_batch_size, drop_remainder=True).map(
      lambda step_indices: tf.gather(step_indices, order), num_parallel_calls=tf.data.AUTOTUNE,
      deterministic=True).unbatch()


def _index_stream(num_examples: int, seed: int, first_epoch: int,
                  first_offset: int) -> tf.data.Dataset:
  """Example indices, epoch after epoch, from element first_offset of epoch first_epoch."""
  seed = tf.constant(seed, tf.int64)
  first_epoch = tf.constant(first_epoch, tf.int64)
  first_offset = tf.constant(first_offset, tf.int64)

  def epoch_indices(epoch):
    permutation = tf.random.experimental.stateless_shuffle(
        tf.range(num_examples, dtype=tf.int64), seed=tf.stack([seed, epoch]))
    # Resuming slices into the first epoch instead of iterating up to the offset.
    start = tf.where(tf.equal(epoch, first_epoch), first_offset, tf.constant(0, tf.int64))
    return tf.data.Dataset.from_tensor_slices(permutation[start:])

  return tf.data.Dataset.counter(start=first_epoch).flat_map(epoch_indices)


def _gather(source: Source, indices: tf.data.Dataset) -> tf.data.Dataset:
  """Batches of int64 indices -> batch dicts of the source's examples."""
  # Eager host tensors are captured by reference, not as graph constants (limited to 2 GB).
  with tf.device("/CPU:0"):
    examples = tf.constant(source.examples)
    labels = None if source.labels is None else tf.constant(source.labels)

  def batch_of(batch_indices):
    batch = {source.kind: tf.gather(examples, batch_indices)}
    if source.kind == "images":
      batch["images"] = from_uint8(batch["images"])
    if labels is not None:
      batch["labels"] = tf.gather(labels, batch_indices)
    return batch

  dataset = indices.map(batch_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  options = tf.data.Options()
  options.deterministic = True
  # The default static optimizations copy every captured tensor, the whole dataset.
  options.experimental_optimization.apply_default_optimizations = False
  # The stream is sharded above, by batch; tf.distribute must not shard it again.
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  return dataset.with_options(options)

"""Tests for keras_gen.data.pipeline: value range, determinism, resuming and sharding."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import data


def _points_source(num_examples):
  """Example i is the point (i, -i) with label i, so a batch shows which indices it holds."""
  indices = np.arange(num_examples)
  points = np.stack([indices, -indices], axis=1).astype(np.float32)
  return data.Source("points", "points", points, indices.astype(np.int64), "train")


def _context(num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=1):
  return tf.distribute.InputContext(num_input_pipelines, input_pipeline_id, num_replicas_in_sync)


def _labels(source, global_batch_size, seed, num_batches, start_step=0, context=None):
  """The labels of the first num_batches batches of input_fn, as int64 [num_batches, b]."""
  dataset = data.input_fn(source, global_batch_size, seed, start_step)(context or _context())
  return np.stack([batch["labels"].numpy() for batch in dataset.take(num_batches)])


# Value range.


def test_from_uint8_maps_0_to_exactly_minus_one_and_255_to_exactly_one():
  images = data.from_uint8(np.array([0, 255, 51], np.uint8))
  assert images.dtype == tf.float32
  np.testing.assert_array_equal(images.numpy()[:2], [-1.0, 1.0])
  np.testing.assert_allclose(images.numpy()[2], 51 / 127.5 - 1)


def test_to_uint8_inverts_from_uint8_for_every_value():
  values = np.arange(256, dtype=np.uint8)
  np.testing.assert_array_equal(data.to_uint8(data.from_uint8(values)).numpy(), values)


def test_to_uint8_rounds_clips_and_accepts_half_precision():
  images = tf.constant([-3.0, -1.0, 0.0, 0.999, 1.0, 7.0], tf.float16)
  np.testing.assert_array_equal(data.to_uint8(images).numpy(), [0, 0, 128, 255, 255, 255])


def test_from_uint8_of_float_images_raises_value_error():
  with pytest.raises(ValueError, match="expects uint8"):
    data.from_uint8(np.zeros(3, np.float32))


def test_image_batches_are_float_in_minus_one_to_one_matching_the_examples():
  images = np.array([0, 255, 100, 7], np.uint8).reshape(4, 1, 1, 1) * np.ones((1, 2, 3, 1), np.uint8)
  source = data.Source("tiny", "images", images, np.arange(4, dtype=np.int64), "train")

  batch = next(iter(data.input_fn(source, 4, seed=0)(_context())))

  assert batch["images"].dtype == tf.float32 and batch["images"].shape == (4, 2, 3, 1)
  expected = images[batch["labels"].numpy()].astype(np.float32) / 127.5 - 1
  np.testing.assert_array_equal(batch["images"].numpy(), expected)
  assert batch["images"].numpy().min() == -1.0 and batch["images"].numpy().max() == 1.0


def test_point_batches_hold_the_points_of_their_labels():
  batch = next(iter(data.input_fn(_points_source(10), 4, seed=0)(_context())))

  assert set(batch) == {"points", "labels"}
  assert batch["points"].dtype == tf.float32 and batch["labels"].dtype == tf.int64
  labels = batch["labels"].numpy()
  np.testing.assert_array_equal(batch["points"].numpy(), np.stack([labels, -labels], 1))


def test_batches_of_a_source_without_labels_have_no_labels_key():
  source = data.Source("unlabelled", "points", np.zeros((5, 2), np.float32), None, "train")
  batch = next(iter(data.input_fn(source, 2, seed=0)(_context())))
  assert set(batch) == {"points"}


# Determinism and epochs.


def test_same_seed_gives_the_same_batches_and_another_seed_different_ones():
  source = _points_source(50)
  first = _labels(source, 8, seed=3, num_batches=20)

  np.testing.assert_array_equal(_labels(source, 8, seed=3, num_batches=20), first)
  assert not np.array_equal(_labels(source, 8, seed=4, num_batches=20), first)


def test_every_epoch_holds_every_index_exactly_once_in_a_new_order():
  # 12 examples, batches of 4: epochs are batches 0-2, 3-5, 6-8.
  epochs = _labels(_points_source(12), 4, seed=0, num_batches=9).reshape(3, 12)

  for epoch in epochs:
    np.testing.assert_array_equal(np.sort(epoch), np.arange(12))
  assert len({tuple(epoch) for epoch in epochs}) == 3


def test_batches_span_epoch_boundaries_when_the_batch_size_does_not_divide_n():
  stream = _labels(_points_source(10), 4, seed=0, num_batches=10).reshape(4, 10)
  for epoch in stream:
    np.testing.assert_array_equal(np.sort(epoch), np.arange(10))


def test_stream_is_epoch_permutations_by_stateless_shuffle_seeded_with_seed_and_epoch():
  labels = _labels(_points_source(10), 5, seed=7, num_batches=4).reshape(-1)
  expected = np.concatenate([
      tf.random.experimental.stateless_shuffle(tf.range(10, dtype=tf.int64), seed=[7, epoch])
      for epoch in range(2)
  ])
  np.testing.assert_array_equal(labels, expected)


# Resuming.


@pytest.mark.parametrize("start_step", [1, 2, 3, 7])
def test_resuming_at_start_step_gives_the_uninterrupted_batches_from_that_step(start_step):
  # N = 10 and B = 4: steps 2 and 7 start inside an epoch and their batches
  # span into the next one.
  source = _points_source(10)
  uninterrupted = _labels(source, 4, seed=5, num_batches=start_step + 6)

  resumed = _labels(source, 4, seed=5, num_batches=6, start_step=start_step)

  np.testing.assert_array_equal(resumed, uninterrupted[start_step:])


def test_resuming_a_billion_steps_in_slices_into_the_right_epoch_at_once():
  start_step, batch_size, num_examples = 10**9, 6, 10
  first_element = start_step * batch_size
  epoch, offset = divmod(first_element, num_examples)
  permutations = [
      tf.random.experimental.stateless_shuffle(tf.range(num_examples, dtype=tf.int64),
                                               seed=[0, epoch + e]).numpy()
      for e in range(2)
  ]

  resumed = _labels(_points_source(num_examples), batch_size, 0, 1, start_step=start_step)

  np.testing.assert_array_equal(resumed[0], np.concatenate(permutations)[offset:offset + batch_size])


# Replicas and input pipelines.


def test_per_replica_batches_concatenate_to_the_single_device_global_batches():
  source = _points_source(20)
  single_device = _labels(source, 8, seed=1, num_batches=6)

  per_replica = _labels(source, 8, seed=1, num_batches=12, context=_context(num_replicas_in_sync=2))

  assert per_replica.shape == (12, 4)
  np.testing.assert_array_equal(per_replica.reshape(6, 8), single_device)


def test_two_input_pipelines_interleaved_reproduce_the_single_pipeline_order():
  source = _points_source(20)
  single_pipeline = _labels(source, 8, seed=2, num_batches=12,
                            context=_context(num_replicas_in_sync=2))

  pipelines = [
      _labels(source, 8, seed=2, num_batches=6,
              context=_context(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                               num_replicas_in_sync=2))
      for pipeline_id in (0, 1)
  ]

  interleaved = np.stack(pipelines, axis=1).reshape(12, 4)
  np.testing.assert_array_equal(interleaved, single_pipeline)


def test_resumed_input_pipelines_line_up_with_the_uninterrupted_stream():
  source = _points_source(10)
  uninterrupted = _labels(source, 4, seed=2, num_batches=8).reshape(-1)

  pipelines = [
      _labels(source, 4, seed=2, num_batches=3, start_step=3,
              context=_context(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                               num_replicas_in_sync=2))
      for pipeline_id in (0, 1)
  ]

  interleaved = np.stack(pipelines, axis=1).reshape(-1)
  np.testing.assert_array_equal(interleaved, uninterrupted[12:24])


def test_global_batch_size_not_divisible_by_replicas_raises_data_error():
  dataset_fn = data.input_fn(_points_source(10), 6, seed=0)
  with pytest.raises(data.DataError, match="6 is not divisible by the 4 replicas"):
    dataset_fn(_context(num_replicas_in_sync=4))


def test_input_fn_works_with_a_distribution_strategy():
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  source = _points_source(10)

  dataset = strategy.distribute_datasets_from_function(data.input_fn(source, 4, seed=0))

  batch = next(iter(dataset))
  np.testing.assert_array_equal(batch["labels"].numpy(), _labels(source, 4, 0, 1)[0])


@pytest.mark.skipif(len(tf.config.list_logical_devices("CPU")) < 2,
                    reason="needs the CPU split into 2 logical devices (tests/conftest.py)")
def test_mirrored_replicas_together_get_exactly_the_single_device_global_batches():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  source = _points_source(10)
  single_device = _labels(source, 4, seed=6, num_batches=5, start_step=2)

  dataset = strategy.distribute_datasets_from_function(
      data.input_fn(source, 4, seed=6, start_step=np.int64(2)))

  for step, batch in zip(range(5), dataset):
    replica_labels = strategy.experimental_local_results(batch["labels"])
    assert len(replica_labels) == 2
    np.testing.assert_array_equal(np.concatenate(replica_labels), single_device[step])


def test_minibatches_are_dealt_so_each_replica_holds_its_rows_of_every_minibatch():
  from keras_gen.data import pipeline
  stream = tf.data.Dataset.range(24)
  dealt = list(pipeline._deal_minibatches(stream, 12, 3, 2).as_numpy_iterator())
  # Step 0 holds 12 indices: minibatches [0..3], [4..7], [8..11], each split over 2 replicas.
  assert dealt[:12] == [0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11]
  assert dealt[12:16] == [12, 13, 16, 17]


def test_dealing_minibatches_logs_no_tensorflow_cpp_line():
  # An int64 Transpose made TensorFlow log "oneDNN supports DT_INT64 only on platforms with
  # AVX-512" on every WGAN-GP run; the dealing is a gather now.
  script = ("import tensorflow as tf; from keras_gen.data import pipeline; "
            "print([int(i) for i in pipeline._deal_minibatches(tf.data.Dataset.range(24), 12, 3, 2)"
            ".as_numpy_iterator()][:6])")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), check=True)
  assert result.stdout.strip() == "[0, 1, 4, 5, 8, 9]"
  assert [line for line in result.stderr.splitlines() if "util.cc" in line] == []

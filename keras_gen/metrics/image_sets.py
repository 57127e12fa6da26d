"""The image sets the sample-quality metrics compare, streamed a batch at a time."""

import dataclasses
import math

import numpy as np

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import metrics as metrics_lib
from keras_gen.data import tfrecords

# Float32 values in a streamed batch (256 MB): 21 images at 1024x1024x3.
MAX_BATCH_VALUES = 2 ** 26


def stream_batch_size(element_shape, largest=256):
  return max(1, min(largest, MAX_BATCH_VALUES // int(np.prod(element_shape))))


def as_batches(images):
  return [images] if isinstance(images, np.ndarray) else images


def float_batches(examples, batch_size):
  """uint8 [N, H, W, C] -> float32 batches in [-1, 1], one at a time."""
  for start in range(0, len(examples), batch_size):
    yield data.from_uint8(examples[start:start + batch_size]).numpy()


def on_255_scale(batches):
  return ((images + 1.0) * 127.5 for images in batches)


def real_batches_on_255_scale(examples, batch_size):
  """uint8 [N, H, W, C] -> float32 batches on [0, 255], through [-1, 1] as samples go."""
  return on_255_scale(float_batches(examples, batch_size))


def batched_features(predict, images, batch_size):
  """predict(batch) -> (features, logits) over float32 [N, H, W, C] images or batches of them."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  features, logits = [], []
  for chunk in as_batches(images):
    for start in range(0, len(chunk), batch_size):
      batch_features, batch_logits = predict(tf.constant(chunk[start:start + batch_size]))
      features.append(batch_features.numpy())
      logits.append(batch_logits.numpy())
  return np.concatenate(features), np.concatenate(logits)


def int_option(options, name, default):
  value = options.extra.get(name, default)
  try:
    return int(value)
  except (TypeError, ValueError) as e:
    raise config_lib.ConfigError(f"--metric_options={name}={value} is not an integer.") from e


def box_filtered(source, resolution, chunk_size=4096):
  """`source` box-filtered to side r as `tfrecords` writes levels; ValueError unless 4 <= r <= R."""
  side = source.examples.shape[1]
  if (source.kind != "images" or source.examples.shape[2] != side
      or not tfrecords.is_power_of_two(side) or not tfrecords.is_power_of_two(resolution)
      or not tfrecords.MIN_LEVEL <= math.log2(resolution) <= math.log2(side)):
    raise ValueError(f"Box filtering needs square power-of-two images and a power-of-two "
                     f"resolution from 4 up to their size, got {source.element_shape} and "
                     f"{resolution}.")
  level = int(math.log2(resolution))
  examples = np.concatenate([
      tfrecords.box_filter_levels(source.examples[start:start + chunk_size])[level]
      for start in range(0, len(source.examples), chunk_size)])
  return dataclasses.replace(source, examples=examples)


def held_out_examples(options, metric):
  """The first min(num_samples, N) held-out images, uint8 (a view); ConfigError for points."""
  if options.held_out.kind != "images":
    raise config_lib.ConfigError(f"Metric {metric!r} compares images, but dataset "
                                 f"{options.held_out.name!r} holds {options.held_out.kind}.")
  return options.held_out.examples[:options.num_samples]


def held_out_examples_of_at_least(options, metric, size, needs):
  """held_out_examples, or MetricSkipped "METRIC skipped: {needs}, ..." below size x size."""
  examples = held_out_examples(options, metric)
  if min(examples.shape[1:3]) < size:
    raise metrics_lib.MetricSkipped(
        f"{metric} skipped: {needs}, and these are {examples.shape[1]}x{examples.shape[2]}.")
  return examples


def generated_batches(subject, options, metric):
  """num_samples samples as float32 batches [b, H, W, C] in [-1, 1], shapes checked."""
  if "sample" not in subject.signatures:
    raise config_lib.ConfigError(f"Metric {metric!r} needs samples, but model "
                                 f"{subject.metadata['model']!r} has no 'sample' signature.")
  expected = tuple(options.held_out.element_shape)

  def checked(batches):
    for images in batches:
      if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise config_lib.ConfigError(
            f"Metric {metric!r}: model {subject.metadata['model']!r} makes samples of shape "
            f"{tuple(images.shape[1:])}, but dataset {options.held_out.name!r} holds {expected}.")
      yield images

  return checked(subject.sample_batches(options.num_samples, options.seed,
                                        batch_size=options.batch_size))


def baseline_examples(options, count):
  """A real set disjoint from the held-out one: (uint8 images, description, cache split) or None."""
  held_out = options.held_out
  other_split = "train" if held_out.split == "test" else "test"
  try:
    other = options.load_split(other_split) if options.load_split is not None else None
  except data.DataError:
    other = None
  if (other is not None and other.kind == "images"
      and other.element_shape == held_out.element_shape
      and not _same_examples(other.examples, held_out.examples)):
    return other.examples[:count], f"{held_out.name} {other_split} split", other_split
  if len(held_out.examples) >= 2 * count:
    return (held_out.examples[count:2 * count],
            f"{held_out.name} {held_out.split} examples [{count}, {2 * count})",
            f"{held_out.split}_second")
  return None, (f"no real set disjoint from the first {count} {held_out.split} examples "
                f"(the dataset has one split of {len(held_out.examples)})"), None


def _same_examples(left, right):
  size = min(len(left), len(right), 256)
  return left.shape == right.shape and np.array_equal(left[:size], right[:size])

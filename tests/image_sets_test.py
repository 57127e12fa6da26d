"""The image sets metrics compare: streamed batches, their size and their checks."""

import numpy as np
import pytest

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen.metrics import image_sets
from keras_gen.metrics import subject as subject_lib


class _BatchedSubject:
  """A stand-in subject whose samples are known arrays, recording each batch drawn."""

  def __init__(self, samples):
    self.samples = samples
    self.signatures = {"sample": None}
    self.metadata = {"model": "stand_in"}
    self.batches_drawn = []

  def sample_batches(self, num, seed, batch_size=256):
    del seed
    for start in range(0, num, batch_size):
      self.batches_drawn.append(start)
      yield self.samples[start:min(num, start + batch_size)]


def _options(examples, num_samples, batch_size):
  held_out = data.Source("npz:test", "images", examples, None, "test")
  return subject_lib.Options(held_out=held_out, train=None, num_samples=num_samples, seed=0,
                             batch_size=batch_size)


def test_streamed_batches_hold_at_most_256_mb_of_float32_and_256_images():
  assert image_sets.stream_batch_size((28, 28, 1)) == 256
  assert image_sets.stream_batch_size((256, 256, 3)) == 256
  assert image_sets.stream_batch_size((512, 512, 3)) == 85
  assert image_sets.stream_batch_size((1024, 1024, 3)) == 21
  assert image_sets.stream_batch_size((2,)) == 256


def test_float_batches_are_the_whole_set_in_minus_one_to_one_a_batch_at_a_time():
  examples = np.arange(7 * 4, dtype=np.uint8).reshape(7, 2, 2, 1) * 9
  batches = list(image_sets.float_batches(examples, 3))
  assert [len(batch) for batch in batches] == [3, 3, 1]
  np.testing.assert_array_equal(np.concatenate(batches), examples / np.float32(127.5) - 1.0)
  on_255 = np.concatenate(list(image_sets.on_255_scale(batches)))
  np.testing.assert_allclose(on_255, examples.astype(np.float32), atol=1e-4)
  np.testing.assert_array_equal(
      np.concatenate(list(image_sets.real_batches_on_255_scale(examples, 3))), on_255)


def test_generated_batches_are_drawn_lazily_in_the_options_batch_size():
  examples = np.zeros((10, 4, 4, 1), np.uint8)
  subject = _BatchedSubject(np.full((10, 4, 4, 1), 0.5, np.float32))
  batches = image_sets.generated_batches(subject, _options(examples, 10, 4), "swd")
  assert subject.batches_drawn == []
  assert [len(batch) for batch in batches] == [4, 4, 2]
  assert subject.batches_drawn == [0, 4, 8]


def test_generated_batches_of_the_wrong_shape_name_the_model_and_the_dataset():
  examples = np.zeros((4, 4, 4, 1), np.uint8)
  subject = _BatchedSubject(np.zeros((4, 8, 8, 1), np.float32))
  batches = image_sets.generated_batches(subject, _options(examples, 4, 2), "swd")
  with pytest.raises(config_lib.ConfigError, match=(
      r"Metric 'swd': model 'stand_in' makes samples of shape \(8, 8, 1\), but dataset "
      r"'npz:test' holds \(4, 4, 1\)\.")):
    next(batches)


def test_a_subject_without_a_sample_signature_is_refused_before_any_batch():
  subject = _BatchedSubject(None)
  subject.signatures = {}
  with pytest.raises(config_lib.ConfigError, match="needs samples, but model 'stand_in'"):
    image_sets.generated_batches(subject, _options(np.zeros((2, 4, 4, 1), np.uint8), 2, 2),
                                 "fid")

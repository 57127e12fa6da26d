"""The GIF89a encoder of keras_gen.generation.gif, decoded back with tf.io.decode_gif."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen.generation import gif


def _decode(payload):
  return tf.io.decode_gif(payload).numpy()


def test_grey_frames_round_trip_exactly_with_their_frame_count():
  rng = np.random.default_rng(0)
  # Noise fills the 4096-entry LZW table several times: the clear codes are exercised too.
  frames = rng.integers(0, 256, size=(5, 61, 83, 1)).astype(np.uint8)
  frames[1] = 17
  decoded = _decode(gif.encode_gif(frames, fps=10))
  assert decoded.shape == (5, 61, 83, 3)
  np.testing.assert_array_equal(decoded, np.repeat(frames, 3, axis=-1))


def test_colour_frames_with_few_colours_round_trip_and_many_colours_are_quantized():
  rng = np.random.default_rng(1)
  palette = rng.integers(0, 256, size=(200, 3)).astype(np.uint8)
  few = palette[rng.integers(0, 200, size=(3, 20, 30))]
  np.testing.assert_array_equal(_decode(gif.encode_gif(few)), few)
  many = rng.integers(0, 256, size=(2, 20, 30, 3)).astype(np.uint8)
  error = np.abs(_decode(gif.encode_gif(many)).astype(int) - many)
  assert error.max() <= 26  # Half a step of the 6-level cube: 255 / 5 / 2.


def test_write_gif_leaves_only_the_finished_file(tmp_path):
  path = str(tmp_path / "walk.gif")
  gif.write_gif(path, np.zeros([2, 4, 4, 1], np.uint8))
  assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.gif"]
  assert _decode(tf.io.read_file(path)).shape == (2, 4, 4, 3)


@pytest.mark.skipif(gif.mp4_writer_available(), reason="imageio with ffmpeg is installed")
def test_mp4_without_imageio_is_refused_with_what_to_install():
  with pytest.raises(config_lib.ConfigError, match="imageio"):
    gif.check_mp4_writer()

"""Progressive GAN building blocks: equalized LR, pixel norm, minibatch stddev, resampling."""

import numpy as np
import tensorflow as tf

from keras_gen.layers import progan as progan_layers


def test_equalized_conv_has_unit_variance_outputs_at_init_with_gain_one():
  layer = progan_layers.EqualizedConv2D(64, 3, gain=1.0)
  x = tf.random.stateless_normal([16, 16, 16, 32], seed=[0, 1])
  y = layer(x).numpy()
  assert abs(y.var() - 1.0) < 0.1
  assert abs(y.mean()) < 0.05


def test_equalized_dense_has_unit_variance_outputs_at_init_with_gain_one():
  layer = progan_layers.EqualizedDense(256, gain=1.0)
  y = layer(tf.random.stateless_normal([512, 128], seed=[0, 2])).numpy()
  assert abs(y.var() - 1.0) < 0.05


def test_equalized_weights_are_standard_normal_and_scaled_by_he_constant_at_runtime():
  layer = progan_layers.EqualizedConv2D(32, 3)
  layer.build([None, 8, 8, 16])
  kernel = layer.kernel.numpy()
  assert abs(kernel.std() - 1.0) < 0.05
  np.testing.assert_allclose(layer.scale, np.sqrt(2.0) / np.sqrt(3 * 3 * 16))


def test_pixel_norm_4d_feature_maps_have_unit_mean_square_per_pixel():
  x = tf.random.stateless_normal([4, 5, 5, 7], seed=[0, 3]) * 9.0 + 2.0
  mean_square = tf.reduce_mean(tf.square(progan_layers.pixel_norm(x)), axis=-1).numpy()
  np.testing.assert_allclose(mean_square, np.ones([4, 5, 5]), rtol=1e-5)


def test_minibatch_stddev_of_a_constant_batch_is_zero():
  x = tf.ones([8, 4, 4, 3]) * 0.7
  y = progan_layers.MinibatchStddev(group_size=4)(x).numpy()
  assert y.shape == (8, 4, 4, 4)
  np.testing.assert_allclose(y[..., :3], 0.7)
  np.testing.assert_allclose(y[..., 3], 0.0, atol=1e-4)  # sqrt(epsilon) = 1e-4.


def test_minibatch_stddev_is_the_average_feature_stddev_within_strided_groups():
  # Two groups of 2: examples {0, 2} and {1, 3} (example i is in group i % 2).
  values = np.array([0.0, 10.0, 2.0, 10.0], np.float32)
  x = tf.constant(np.broadcast_to(values[:, None, None, None], [4, 2, 2, 1]))
  y = progan_layers.MinibatchStddev(group_size=2)(x).numpy()[..., 1]
  np.testing.assert_allclose(y[[0, 2]], 1.0, atol=1e-4)
  np.testing.assert_allclose(y[[1, 3]], 0.0, atol=1e-4)


def test_upsample_repeats_each_pixel_and_downsample_averages_2x2_blocks():
  x = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
  up = progan_layers.upsample(x).numpy()[0, ..., 0]
  assert up.shape == (8, 8)
  np.testing.assert_array_equal(up[0:2, 0:2], 0.0)
  np.testing.assert_array_equal(up[6:8, 6:8], 15.0)
  down = progan_layers.downsample(x).numpy()[0, ..., 0]
  np.testing.assert_allclose(down, [[2.5, 4.5], [10.5, 12.5]])
  np.testing.assert_allclose(progan_layers.downsample(progan_layers.upsample(x)), x)


def test_feature_maps_follow_fmap_base_decay_and_max():
  counts = [progan_layers.num_features(stage, 8192, 1.0, 512) for stage in range(10)]
  assert counts == [512, 512, 512, 512, 512, 256, 128, 64, 32, 16]

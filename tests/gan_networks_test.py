"""Tests for keras_gen.families.gan_networks: shapes for every supported resolution."""

import pytest
import tensorflow as tf
from keras import layers

from keras_gen.families import gan
from keras_gen.families import gan_networks


def _hparams(**overrides):
  return dict(gan.DEFAULT_HPARAMS, latent_dim=8, g_filters=4, d_filters=4, g_units=8,
              d_units=8, **overrides)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 1), (32, 32, 3), (64, 64, 3)])
def test_dcgan_generates_images_in_range_and_discriminates_them_to_one_logit(shape):
  G = gan_networks.make_generator("dcgan", shape, _hparams())
  D = gan_networks.make_discriminator("dcgan", shape, _hparams())
  images = G(tf.random.normal([2, 8]))
  assert images.shape == (2, *shape)
  assert float(tf.reduce_max(tf.abs(images))) <= 1.0
  assert D(images).shape == (2, 1)


@pytest.mark.parametrize("norm, layer_type", [("layer", layers.LayerNormalization),
                                              ("batch", layers.BatchNormalization)])
def test_dcgan_critic_uses_the_requested_normalization_and_none_means_none(norm, layer_type):
  def norms(kind):
    D = gan_networks.make_discriminator("dcgan", (28, 28, 1), _hparams(d_norm=kind))
    D(tf.zeros([1, 28, 28, 1]))
    return [layer for layer in D._flatten_layers() if isinstance(  # pylint: disable=protected-access
        layer, (layers.LayerNormalization, layers.BatchNormalization))]
  assert norms(norm) and all(isinstance(layer, layer_type) for layer in norms(norm))
  assert norms("none") == []


def test_mlp_generates_unbounded_points_and_tanh_images():
  points = gan_networks.make_generator("mlp", (2,), _hparams())(tf.random.normal([5, 8]) * 100)
  images = gan_networks.make_generator("mlp", (6, 6, 1), _hparams())(tf.random.normal([5, 8]))
  assert points.shape == (5, 2) and float(tf.reduce_max(tf.abs(points))) > 1.0
  assert images.shape == (5, 6, 6, 1) and float(tf.reduce_max(tf.abs(images))) <= 1.0
  assert gan_networks.make_discriminator("mlp", (2,), _hparams())(points).shape == (5, 1)


def test_dcgan_generator_for_4x4_images_outputs_4x4():
  from keras_gen.families import gan_networks as networks
  G = networks.DCGANGenerator((4, 4, 1), latent_dim=8, base_filters=4)
  D = networks.DCGANDiscriminator((4, 4, 1), base_filters=4)
  images = G(tf.zeros([2, 8]))
  assert images.shape == (2, 4, 4, 1)
  assert D(images).shape == (2, 1)


def test_mlp_generator_with_batch_norm_normalizes_each_hidden_layer_over_the_batch():
  G = gan_networks.make_generator("mlp", (2,), _hparams(g_norm="batch", g_layers=2))
  z = tf.random.normal([64, 8], seed=1) * 50.0 + 7.0
  G(z, training=True)
  # In training mode each hidden unit, before its ReLU, has mean 0 and variance 1 over the
  # batch (batch norm starts with gamma 1, beta 0), whatever the scale of z.
  pre_activation = G.norms[0](G.hidden[0](z), training=True)
  mean, variance = tf.nn.moments(pre_activation, axes=[0])
  assert float(tf.reduce_max(tf.abs(mean))) < 1e-4
  assert float(tf.reduce_max(tf.abs(variance - 1.0))) < 1e-2
  # The hidden Dense layers drop their bias, which batch norm's mean would cancel.
  assert all(not dense.use_bias for dense in G.hidden)
  assert len([norm for norm in G.norms if norm is not None]) == 2


def test_mlp_generator_without_norm_has_no_batch_norm_layers():
  G = gan_networks.make_generator("mlp", (2,), _hparams())
  G(tf.zeros([1, 8]))
  assert not [layer for layer in G._flatten_layers()  # pylint: disable=protected-access
              if isinstance(layer, layers.BatchNormalization)]
  assert all(dense.use_bias for dense in G.hidden)

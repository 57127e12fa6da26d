"""Tests for keras_gen.families.pca: streamed closed-form PCA and the linear autoencoder."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.engine import step_context
from keras_gen.families import pca


def low_rank_images(count, seed=0, rank=3, noise=0.02):
  """[count, 4, 4, 1] floats in about [-1, 1] near a rank-`rank` affine subspace."""
  rng = np.random.default_rng(seed)
  basis = rng.normal(size=[rank, 16]) * np.array([[0.5], [0.3], [0.2]])[:rank]
  x = rng.normal(size=[count, rank]) @ basis + 0.1 + noise * rng.normal(size=[count, 16])
  return x.reshape(count, 4, 4, 1).astype(np.float32)


def numpy_pca(x, k):
  x = x.reshape(len(x), -1).astype(np.float64)
  mean = x.mean(axis=0)
  _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
  return mean, vt[:k].T


def principal_angles_degrees(a, b):
  qa, _ = np.linalg.qr(a)
  qb, _ = np.linalg.qr(b)
  cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1.0, 1.0)
  return np.degrees(np.arccos(cosines))


def reconstruction_mse(x, mean, basis):
  flat = x.reshape(len(x), -1)
  return float(np.mean(np.square((flat - mean) @ basis @ basis.T + mean - flat)))


def test_closed_form_pca_streamed_in_batches_equals_the_svd_of_all_the_data():
  images = low_rank_images(96)
  layer = pca.PrincipalComponents(3)
  layer(tf.zeros([1, 4, 4, 1]))
  for start in range(0, 96, 32):
    layer.accumulate(tf.constant(images[start:start + 32]), lambda values: values)
  mean, basis, eigenvalues = (t.numpy() for t in layer.components())
  expected_mean, expected_basis = numpy_pca(images, 3)
  np.testing.assert_allclose(mean, expected_mean, atol=1e-5)
  assert principal_angles_degrees(basis, expected_basis).max() < 0.01
  assert np.all(np.diff(eigenvalues) <= 0)


def test_running_moments_count_each_example_once_on_two_mirrored_replicas():
  strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
  with strategy.scope():
    layer = pca.PrincipalComponents(2)
    layer(tf.zeros([1, 4, 4, 1]))
  images = tf.constant(low_rank_images(8))

  @tf.function
  def step():
    context = step_context.StepContext(step=tf.constant(0, tf.int64), seed=0, global_batch_size=8)
    strategy.run(lambda: layer.accumulate(images[:4], context.all_reduce_sum))  # 4 on each replica.

  for _ in range(3):
    step()
  assert float(layer.count.numpy()) == 24.0
  np.testing.assert_allclose(layer.total.numpy(),
                             6 * images[:4].numpy().reshape(4, -1).sum(axis=0), rtol=1e-5)


def test_linear_autoencoder_by_gradient_descent_spans_the_principal_subspace_with_its_error():
  images = low_rank_images(256)
  hparams = dict(pca.DEFAULT_HPARAMS, method="gradient_descent", code_size=3,
                 learning_rate=0.01)
  networks = pca.build(hparams, (4, 4, 1))
  optimizer, variables = pca.optimizers(hparams, networks)["linear_autoencoder"]
  optimizer.build(variables)
  batch = {"images": tf.constant(images)}
  context = step_context.StepContext(step=tf.constant(0, tf.int64), seed=0, global_batch_size=256)
  step = tf.function(lambda: pca.train_step(networks, {"linear_autoencoder": optimizer},
                                            batch, context, hparams))
  for learning_rate, steps in ((0.01, 3000), (0.001, 1000)):  # Decayed: Adam's noise settles.
    optimizer.learning_rate.assign(learning_rate)
    for _ in range(steps):
      step()
  decoder_kernel = networks["decoder"].layers[0].kernel.numpy()  # [k, D]
  mean, basis = numpy_pca(images, 3)
  assert principal_angles_degrees(decoder_kernel.T, basis).max() < 2.0
  flat = images.reshape(256, -1)
  learned = networks["decoder"](networks["encoder"](images)).numpy().reshape(256, -1)
  learned_mse = float(np.mean(np.square(learned - flat)))
  pca_mse = reconstruction_mse(images, mean, basis)
  total_variance = float(np.mean(np.square(flat - mean)))
  # PCA is the optimum; the trained map leaves at most 0.1% more of the variance unexplained.
  assert pca_mse - 1e-7 <= learned_mse <= pca_mse + 1e-3 * total_variance


def test_pca_trains_end_to_end_and_its_export_reconstructs_with_the_principal_components(
    tmp_path):
  rng = np.random.default_rng(1)
  images = np.clip(low_rank_images(16, seed=1).repeat(4, 1).repeat(4, 2) * 127.5 + 127.5,
                   0, 255).astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  del rng
  result = loop.run(config.TrainConfig(
      model="pca", dataset=f"npz:{tmp_path / 'data.npz'}", model_dir=str(tmp_path / "run"),
      train_steps=2, batch_size=8, summary_every=1, log_every=1, checkpoint_every=1,
      hparams={"code_size": 4}))
  loaded = tf.saved_model.load(result.export_path)
  reconstructed = loaded.signatures["reconstruct"](images=tf.constant(images))["images"].numpy()
  x = images.astype(np.float64) / 127.5 - 1.0
  mean, basis = numpy_pca(x, 4)  # Two steps of 8 saw each of the 16 images once.
  expected = ((x.reshape(16, -1) - mean) @ basis @ basis.T + mean).reshape(x.shape)
  expected = np.clip(np.round((np.clip(expected, -1, 1) + 1) * 127.5), 0, 255)
  assert np.abs(reconstructed.astype(np.float64) - expected).max() <= 1.0
  assert loaded.signatures["encode"](images=tf.constant(images))["code"].shape == (16, 4)


def test_validate_hparams_names_an_unknown_method():
  with pytest.raises(ValueError, match="method='svd' is not one of closed_form"):
    pca.validate_hparams(dict(pca.DEFAULT_HPARAMS, method="svd"))

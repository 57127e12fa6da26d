"""`linear_probe`: linear classifiers on frozen features, beside pixels and a random init."""

import numpy as np
import pytest

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import data
from keras_gen.data import tfrecords
from keras_gen.engine import loop
from keras_gen.metrics import evaluation
from keras_gen.metrics import image_sets
from keras_gen.metrics import linear_probe
from keras_gen.metrics import subject as subject_lib


def _separable_source(count, seed, split):
  """16x16 grey images of one bright blob: class 0 in the left third, class 1 in the right."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, size=count)
  columns = np.where(labels == 0, rng.uniform(2, 5, count), rng.uniform(11, 14, count))
  rows = rng.uniform(3, 13, count)
  grid = np.stack(np.meshgrid(np.arange(16), np.arange(16), indexing="ij"), -1)
  centres = np.stack([rows, columns], -1)[:, None, None, :]
  images = 255 * np.exp(-np.sum((grid[None] - centres) ** 2, -1) / 6.0)
  return data.Source("separable", "images", images.astype(np.uint8)[..., None],
                     labels.astype(np.int64), split)


def _train(tiny_npz, model_dir, model):
  config = config_lib.TrainConfig(
      model=model, dataset=f"npz:{tiny_npz}", model_dir=str(model_dir), train_steps=1,
      batch_size=8, checkpoint_every=1000, summary_every=1000, log_every=1000,
      hparams=dict(TINY_HPARAMS[model]))
  return config, loop.run(config).export_path


@pytest.fixture(scope="module")
def dcgan_run(tiny_npz, tmp_path_factory):
  return _train(tiny_npz, tmp_path_factory.mktemp("probe") / "dcgan", "dcgan")


@pytest.fixture(scope="module")
def progan_run(tmp_path_factory):
  """A tiny ProGAN on 96 labelled 16x16 separable images, stopped in its 8x8 fade-in."""
  source = _separable_source(96, 0, "train")
  path = str(tmp_path_factory.mktemp("data") / "separable16")
  tfrecords.create_from_arrays(path, "separable16", source.examples, source.labels)
  config = config_lib.TrainConfig(
      model="progan", dataset=f"progan:{path}",
      model_dir=str(tmp_path_factory.mktemp("probe") / "progan"), train_steps=100,
      checkpoint_every=1000, summary_every=1000, log_every=1000,
      hparams=dict(TINY_HPARAMS["progan"]))
  loop.run(config)
  return config


def test_a_linear_classifier_separates_separable_features_deterministically():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 3, size=300)
  features = (rng.standard_normal([300, 5]) + 4.0 * np.eye(3, 5)[labels]).astype(np.float32)

  def fit():  # Each fit standardizes its own copy in place.
    return linear_probe.fit_and_score(features[:200].copy(), labels[:200],
                                      features[200:].copy(), labels[200:], 3, epochs=30,
                                      l2=1e-3, learning_rate=1e-2, batch_size=32, seed=0)

  first, second = fit(), fit()
  assert first == second
  assert first[1] > 0.95


def test_the_probe_beats_chance_on_held_out_separable_images(dcgan_run):
  config, _ = dcgan_run
  subject = subject_lib.from_model_dir(config.model_dir)
  options = subject_lib.Options(held_out=_separable_source(200, 1, "test"),
                                train=_separable_source(400, 0, "train"), num_samples=400,
                                seed=0, extra={"probe_learning_rate": "0.01"})
  results = linear_probe.linear_probe(subject, options)
  assert results["chance"] == 0.5
  assert results["test_examples"] == 200 and results["train_examples"] == 400
  for prefix in ("", "random_init_", "pixels_"):
    assert results[f"{prefix}test_accuracy"] > 0.9, prefix
  assert results["feature_dim"] == results["random_init_feature_dim"] != 16 * 16
  assert results["pixels_feature_dim"] == 16 * 16


def test_the_random_init_baseline_is_another_network_than_the_trained_one(dcgan_run):
  config, _ = dcgan_run
  run = subject_lib.from_model_dir(config.model_dir).run
  random_networks = linear_probe.random_init_networks(run.family, config.hparams,
                                                      run.config.element_shape, config.seed)
  assert random_networks["D"] is not run.networks["D"]
  for trained, untrained in zip(run.networks["D"].trainable_variables,
                                random_networks["D"].trainable_variables):
    assert trained.shape == untrained.shape
    if np.any(trained.numpy() != 0):  # Zero-initialized biases may still agree.
      assert not np.allclose(trained.numpy(), untrained.numpy())
  features = linear_probe.feature_extractor(run.family, run.networks, config.hparams, "dcgan")[0]
  random_features = linear_probe.feature_extractor(run.family, random_networks, config.hparams,
                                                   "dcgan")[0]
  images = _separable_source(8, 2, "test").examples
  assert not np.allclose(linear_probe.extract(features, images),
                         linear_probe.extract(random_features, images))


def test_evaluate_loads_the_train_split_for_the_probe_and_reports_all_three_figures(
    tiny_npz, tmp_path):
  config, _ = _train(tiny_npz, tmp_path / "autoencoder", "autoencoder")
  results = evaluation.evaluate(model_dir=config.model_dir, metric_names=["linear_probe"],
                                num_samples=64, extra={"probe_epochs": "2"})
  values = results["metrics"]["linear_probe"]
  assert values["feature_dim"] == TINY_HPARAMS["autoencoder"]["code_size"]
  assert values["train_examples"] == 64 and values["probe_epochs"] == 2
  for prefix in ("", "random_init_", "pixels_"):
    assert 0.0 <= values[f"{prefix}test_accuracy"] <= 1.0


def test_an_export_is_refused_because_it_holds_no_discriminator(dcgan_run):
  _, export_path = dcgan_run
  with pytest.raises(config_lib.ConfigError, match="give --model_dir"):
    evaluation.evaluate(saved_model=export_path, metric_names=["linear_probe"], num_samples=8)


def test_a_probe_setting_that_is_not_a_number_is_one_clear_error(dcgan_run):
  subject = subject_lib.from_model_dir(dcgan_run[0].model_dir)
  source = _separable_source(8, 0, "train")
  options = subject_lib.Options(held_out=source, train=source, num_samples=8, seed=0,
                                extra={"probe_epochs": "many"})
  with pytest.raises(config_lib.ConfigError, match="probe_epochs=many is not a whole number"):
    linear_probe.linear_probe(subject, options)


def test_the_probe_reads_progan_d_features_at_the_level_the_run_reached(progan_run):
  results = evaluation.evaluate(model_dir=progan_run.model_dir, metric_names=["linear_probe"],
                                num_samples=64, extra={"probe_epochs": "5",
                                                       "probe_learning_rate": "0.01"})
  assert results["real_images_box_filtered_from"] == [16, 16, 1]
  values = results["metrics"]["linear_probe"]
  # D's b4 features (4 x 4 x 8) beside the pixels of the 16x16 images box-filtered to 8x8.
  assert values["feature_dim"] == values["random_init_feature_dim"] == 4 * 4 * 8
  assert values["pixels_feature_dim"] == 8 * 8
  assert values["train_examples"] == 64 and values["test_examples"] == 64
  assert values["chance"] == 0.5
  for prefix in ("", "random_init_", "pixels_"):
    assert values[f"{prefix}test_accuracy"] > 0.9, prefix


def test_progan_features_of_a_batch_not_divisible_by_the_stddev_group_keep_its_groups(
    progan_run):
  run = subject_lib.from_model_dir(progan_run.model_dir).run
  features = linear_probe.feature_extractor(run.family, run.networks, progan_run.hparams,
                                            "progan", run.family_state)[0]
  images = image_sets.box_filtered(_separable_source(7, 3, "test"), 8).examples
  seven, six = linear_probe.extract(features, images), linear_probe.extract(features, images[:6])
  assert seven.shape == (7, 4 * 4 * 8)
  np.testing.assert_allclose(seven[:6], six, atol=1e-6)  # The 7th image is a group of its own.

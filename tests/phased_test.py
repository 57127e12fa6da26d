"""Phased training (families/progan_schedule.py) with Progressive GAN on tiny 8x8 and 16x16 data."""

import glob
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_same_checkpoint_values
from conftest import assert_same_weights
from conftest import checkpoint_values
from conftest import event_tags
from conftest import network_weights
from conftest import reads_left_unordered
from conftest import requires_debian_fashion_mnist
from conftest import save_random_classifier
from conftest import TINY_HPARAMS
import nan_families
from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import export
from keras_gen import serving
from keras_gen.data import files
from keras_gen.data import tfrecords
from keras_gen.engine import loop
from keras_gen.engine import restore
from keras_gen.metrics import classifier
from keras_gen.metrics import evaluation
from keras_gen.metrics import frechet
from keras_gen.metrics import image_sets
from keras_gen.metrics import subject as subject_lib

# 4x4 stable for 2 steps of 8 images, then the 8x8 transition for 4 steps.
TINY_PROGAN = TINY_HPARAMS["progan"]


def _blobs_dataset(tmp_path_factory, size):
  """40 grey size x size images of one soft blob each, as a multi-resolution dataset."""
  rng = np.random.default_rng(0)
  grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1)
  centres = rng.uniform(size / 4, 3 * size / 4, size=(40, 1, 1, 2))
  images = (255 * np.exp(-np.sum((grid[None] - centres) ** 2, -1) / (size / 2))).astype(np.uint8)
  path = str(tmp_path_factory.mktemp("data") / f"blobs{size}")
  tfrecords.create_from_arrays(path, f"blobs{size}", images[..., None], shard_size=16)
  return path


@pytest.fixture(scope="module")
def tiny_progan_dataset(tmp_path_factory):
  return _blobs_dataset(tmp_path_factory, 8)


@pytest.fixture(scope="module")
def tiny_progan_dataset16(tmp_path_factory):
  """16x16 data: the TINY_PROGAN schedule stops at 8x8, below the top level."""
  return _blobs_dataset(tmp_path_factory, 16)


def _config(dataset, model_dir, **overrides):
  values = dict(model="progan", dataset=f"progan:{dataset}", model_dir=str(model_dir),
                train_steps=100, checkpoint_every=1000, summary_every=1000, log_every=1000,
                hparams=dict(TINY_PROGAN))
  values.update(overrides)
  return config_lib.TrainConfig(**values)


def test_an_xla_progan_step_scores_the_reals_as_the_plain_step_and_runs_through_a_transition(
    tiny_progan_dataset, tmp_path):
  # XLA draws the stateless latents and penalty interpolations with another generator
  # than TensorFlow's kernels, so the runs part after the first update (Adam with
  # beta1 0 turns any gradient difference into a learning-rate-sized step); D's drift
  # term, D(reals) squared, is the same computation on the same batch in both.
  plain = _config(tiny_progan_dataset, tmp_path / "plain", train_steps=1)
  compiled = _config(tiny_progan_dataset, tmp_path / "xla", train_steps=1, xla=True)
  assert loop.run(compiled).losses["drift"] == pytest.approx(
      loop.run(plain).losses["drift"], rel=1e-5)
  compiled.train_steps = 100
  result = loop.run(compiled)
  assert (result.step, *result.schedule.values()) == (
      6, 48, 3, 0.75)
  assert all(np.isfinite(value) for value in result.losses.values())


@pytest.mark.parametrize("loss", ["wgan_gp", "ns_r1"])
def test_every_read_of_d_in_the_step_precedes_ds_update_once_grappler_optimized_it(
    tiny_progan_dataset, tmp_path, loss):
  # With Grappler's dependency optimizer on, three of WGAN-GP's reads were free to run
  # after D's update, among them the gradient penalty's read of b4_conv's bias, which no
  # gradient needs. About once in a hundred fresh runs the penalty then used the updated
  # bias (docs/training.md, "Reads before writes").
  config = _config(tiny_progan_dataset, tmp_path, hparams=dict(TINY_PROGAN, loss=loss))
  unordered = reads_left_unordered(config)
  assert unordered == [], unordered


def test_resume_in_the_middle_of_a_transition_gives_the_alpha_and_weights_of_one_run(
    tiny_progan_dataset, tmp_path):
  whole = _config(tiny_progan_dataset, tmp_path / "whole")
  halves = _config(tiny_progan_dataset, tmp_path / "halves", train_steps=4)
  result = loop.run(whole)
  assert (result.step, *result.schedule.values()) == (
      6, 48, 3, 0.75)  # The last step's alpha: (40 - 16) / 32.
  first = loop.run(halves)
  # Stopped after 2 of the transition's 4 steps; its second step ran at alpha (24 - 16) / 32.
  assert (first.step, *first.schedule.values()) == (
      4, 32, 3, 0.25)
  halves.train_steps = 100
  second = loop.run(halves)
  assert second.start_step == 4 and second.step == 6 and second.schedule["alpha"] == 0.75
  whole_weights, halves_weights = network_weights(whole.model_dir), network_weights(halves.model_dir)
  # The phase state [images_shown, phase, level, alpha] is checkpointed with the networks.
  assert restore.load_run(halves.model_dir).family_state.values() == [48, 1, 3, 0.75]
  assert restore.load_run(whole.model_dir).family_state.values() == [48, 1, 3, 0.75]
  assert_same_weights(whole_weights, halves_weights)

  samples = os.listdir(os.path.join(whole.model_dir, "samples"))
  assert {"samples_step0000002.png", "samples_step0000006.png", "reals_step0000006.png"} <= set(
      samples)
  # The export is G_ema at 8x8 and loads with TensorFlow alone.
  script = (
      "import sys, tensorflow as tf\n"
      "model = tf.saved_model.load(sys.argv[1])\n"
      "images = model.signatures['serving_default'](z=tf.random.normal([3, 8]))['images']\n"
      "sampled = model.signatures['sample'](num=tf.constant(2), seed=tf.constant(1, tf.int64))\n"
      "print(images.shape, images.dtype.name, sampled['images'].shape)\n")
  output = subprocess.run([sys.executable, "-c", script, result.export_path],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert output.stdout.strip().splitlines()[-1] == "(3, 8, 8, 1) uint8 (2, 8, 8, 1)", output.stderr


def _scalars(model_dir, tag):
  """{step: value} of one scalar the loop logged."""
  values = {}
  for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = float(tf.make_ndarray(value.tensor))
  return values


def test_mirror_augment_and_the_learning_rate_rampup_resume_exactly_and_log_the_ramped_rates(
    tiny_progan_dataset, tmp_path):
  # The ramp covers the first 32 images: both phases begin inside it.
  hparams = dict(TINY_PROGAN, mirror_augment=True, learning_rate_rampup_kimg=0.032)
  whole = _config(tiny_progan_dataset, tmp_path / "whole", hparams=hparams, log_every=1)
  halves = _config(tiny_progan_dataset, tmp_path / "halves", hparams=hparams, train_steps=3)
  loop.run(whole)
  loop.run(halves)  # Stopped after the first step of the 8x8 transition.
  halves.train_steps = 100
  assert loop.run(halves).start_step == 3
  assert_same_weights(network_weights(whole.model_dir), network_weights(halves.model_dir))
  # Step k starts with 8 (k - 1) images shown: 1e-3 exp(-5 (1 - 8 (k - 1) / 32)^2), then 1e-3.
  expected = {k: 1e-3 * np.exp(-5.0 * (1.0 - min(8 * (k - 1) / 32, 1.0)) ** 2)
              for k in range(1, 7)}
  for name in ("G", "D"):
    rates = _scalars(whole.model_dir, f"learning_rate/{name}")
    assert sorted(rates) == list(range(1, 7))
    np.testing.assert_allclose([rates[k] for k in rates], [expected[k] for k in rates],
                               rtol=1e-6)


def test_a_dataset_that_is_not_multi_resolution_is_refused_with_the_tool_to_make_one(tmp_path):
  config = _config("unused", tmp_path / "run")
  config.dataset = "fashion_mnist"
  with pytest.raises(config_lib.ConfigError, match="needs a multi-resolution dataset "
                     "--dataset=progan:FOLDER .*tools.dataset_tool"):
    loop.run(config)
  assert not os.path.exists(config.model_dir)


def test_a_schedule_above_the_dataset_resolution_is_refused(tiny_progan_dataset, tmp_path):
  config = _config(tiny_progan_dataset, tmp_path / "run",
                   hparams=dict(TINY_PROGAN, start_resolution=16))
  with pytest.raises(config_lib.ConfigError, match="start_resolution=16 is above the data's 8x8"):
    loop.run(config)


def test_a_truncated_level_file_is_named_and_the_run_stops_cleanly(tiny_progan_dataset, tmp_path):
  import shutil
  broken = str(tmp_path / "broken")
  shutil.copytree(tiny_progan_dataset, broken)
  level_file = sorted(tfrecords.level_files(broken)[2])[-1]
  with open(level_file, "rb+") as f:
    f.truncate(os.path.getsize(level_file) - 7)
  config = _config(broken, tmp_path / "run", checkpoint_every=1)
  with pytest.raises(data.DataError, match=r"level r02 \(.*\) is truncated or corrupt"):
    loop.run(config)


def test_phased_training_on_two_replicas_matches_one_device_without_minibatch_stddev(
    tiny_progan_dataset, tmp_path):
  # With the minibatch standard deviation layer on, its statistics are taken
  # within each replica's batch (as the paper's are within each GPU's), so only
  # a group of one makes two replicas and one device compute the same thing.
  hparams = dict(TINY_PROGAN, total_kimg=0.024, mbstd_group_size=1)  # 4x4, then 2 fade-in steps.
  one = _config(tiny_progan_dataset, tmp_path / "one", hparams=hparams)
  two = _config(tiny_progan_dataset, tmp_path / "two", hparams=hparams, strategy="mirrored",
                cpu_replicas=2)
  first, second = loop.run(one), loop.run(two)
  assert (second.step, second.schedule) == (first.step, first.schedule)
  assert_same_weights(network_weights(one.model_dir), network_weights(two.model_dir),
                      atol=1e-5, rtol=1e-4)


def _read_json(path):
  with open(path) as f:
    return json.load(f)


def test_snapshot_metrics_run_at_the_level_reached_against_box_filtered_reals(
    tiny_progan_dataset16, tmp_path, monkeypatch):
  config = _config(tiny_progan_dataset16, tmp_path / "run", metrics=["swd", "ms_ssim"],
                   metric_samples=16)
  loaded_resolutions = []

  def recording_load(*args, resolution=None, limit=None, **kwargs):
    loaded_resolutions.append(resolution)
    assert limit == 2 * 16  # The metrics' 16 reals and the baseline's 16.
    return data.load(*args, resolution=resolution, limit=limit, **kwargs)

  monkeypatch.setattr(evaluation, "data", types.SimpleNamespace(
      load=recording_load, stored_resolutions=data.stored_resolutions))
  result = loop.run(config, snapshot=evaluation.SnapshotMetrics())
  # Each snapshot read its own level's records (the 8x8 one twice: swd's real
  # baseline takes the other split), never the 16x16 top level.
  assert loaded_resolutions == [4, 8, 8]
  # Checkpoints at the phase ends, 2 and 6.
  assert (result.step, result.schedule["level"]) == (6, 3)
  eval_dir = os.path.join(config.model_dir, "eval")
  at_4x4 = _read_json(os.path.join(eval_dir, "step0000002.json"))
  assert at_4x4["real_images_box_filtered_from"] == [16, 16, 1]
  assert at_4x4["metrics"]["swd"]["skipped"] == (
      "swd skipped: its 7x7 neighbourhoods need images of at least that size, and these "
      "are 4x4.")
  at_8x8 = _read_json(os.path.join(eval_dir, "step0000006.json"))
  assert at_8x8["real_images_box_filtered_from"] == [16, 16, 1]
  swd = at_8x8["metrics"]["swd"]
  # One pyramid level at 8x8: the samples against the 16x16 reals box-filtered to 8x8.
  assert swd["swd_x1e3_avg"] == swd["swd_x1e3_8"] and np.isfinite(swd["swd_x1e3_avg"])
  assert swd["swd_x1e3_avg"] > swd["swd_x1e3_avg_real_baseline"] > 0
  assert swd["num_samples"] == 16
  assert at_8x8["metrics"]["ms_ssim"]["skipped"] == (
      "ms_ssim skipped: its 5 scales need images of at least 16x16, and these are 8x8.")
  tags = event_tags(config.model_dir)
  assert tags["metrics/swd/swd_x1e3_avg"] == [6]
  assert "metrics/swd/swd_x1e3_16" not in tags


def test_box_filtered_reals_are_the_datasets_own_lower_level(tiny_progan_dataset16):
  top, labels = tfrecords.read_level(tiny_progan_dataset16, 4)
  source = data.Source("blobs16", "images", top, labels, "train")
  for level in (3, 2):
    stored, _ = tfrecords.read_level(tiny_progan_dataset16, level)
    np.testing.assert_array_equal(image_sets.box_filtered(source, 2 ** level).examples, stored)


def test_export_of_a_run_stopped_below_its_top_level_describes_and_samples_that_level(
    tiny_progan_dataset, tmp_path):
  config = _config(tiny_progan_dataset, tmp_path / "run", train_steps=2)  # The 4x4 phase only.
  trained = loop.run(config)
  assert trained.schedule["level"] == 2
  [path] = export.export(config.model_dir, export_dir=str(tmp_path / "again"))
  for exported in (trained.export_path, path):
    metadata = _read_json(os.path.join(exported, "assets", serving.METADATA_FILE))
    assert (metadata["element_shape"], metadata["resolution"]) == ([4, 4, 1], 4), exported
    assert metadata["config"]["element_shape"] == [4, 4, 1]
    sample = tf.saved_model.load(exported).signatures["sample"]
    images = sample(num=tf.constant(3), seed=tf.constant(0, tf.int64))["images"]
    assert images.shape == (3, 4, 4, 1)


@pytest.fixture
def nan_progan(monkeypatch):
  from keras_gen.families import progan
  return nan_families.register(monkeypatch, "nan_progan", progan)


def test_a_nan_progan_step_is_skipped_like_any_models_and_leaves_every_variable_untouched(
    tiny_progan_dataset, tmp_path, nan_progan):
  # Step 4 is the second of the 8x8 transition's 4 steps.
  before = _config(tiny_progan_dataset, tmp_path / "before", model=nan_progan, train_steps=3)
  poisoned = _config(tiny_progan_dataset, tmp_path / "poisoned", model=nan_progan, train_steps=4,
                     hparams=dict(TINY_PROGAN, nan_steps=[4]))
  loop.run(before)
  result = loop.run(poisoned)
  assert result.nonfinite_steps == [4]
  assert not all(np.isfinite(value) for value in result.losses.values())
  # G, D, G_ema, both optimizers' slots and iteration counts, and the phase state
  # (images shown, alpha): the skipped step showed no images.
  assert_same_checkpoint_values(checkpoint_values(before.model_dir),
                                checkpoint_values(poisoned.model_dir))


def test_restore_mode_reloads_a_progan_checkpoint_and_stops_when_the_nan_recurs(
    tiny_progan_dataset, tmp_path, nan_progan):
  config = _config(tiny_progan_dataset, tmp_path / "run", model=nan_progan, checkpoint_every=2,
                   on_nonfinite="restore", hparams=dict(TINY_PROGAN, nan_steps=[3]))
  with pytest.raises(loop.NonFiniteError, match="Step 3 gave non-finite values again"):
    loop.run(config)
  assert tf.train.latest_checkpoint(os.path.join(config.model_dir, "checkpoints")).endswith("-2")
  # The checkpoint it restored holds the phase state of the end of the 4x4 phase.
  assert restore.load_run(config.model_dir).family_state.values() == [16, 0, 2, 1.0]


@requires_debian_fashion_mnist
def test_swd_at_every_phase_end_and_fcd_at_the_top_on_padded_fashion_mnist_by_its_classifier(
    real_fashion_mnist_idx, tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_GEN_HOME", str(tmp_path / "home"))
  save_random_classifier("fashion_mnist", (28, 28, 1))
  images, _ = files.read_idx_dataset(real_fashion_mnist_idx, "train")
  dataset = str(tmp_path / "fashion_mnist32")
  tfrecords.create_from_arrays(dataset, "fm32", tfrecords.prepare_arrays(images, pad_to=32),
                               domain="fashion_mnist")
  # 16x16 for 2 steps of 8 images, the 32x32 fade-in for 4, 32x32 stable for 2.
  hparams = dict(TINY_PROGAN, start_resolution=16, total_kimg=0.064)
  config = _config(dataset, tmp_path / "run", metrics=["swd", "fcd"], metric_samples=16,
                   hparams=hparams)
  loop.run(config, snapshot=evaluation.SnapshotMetrics())
  tags = event_tags(config.model_dir)
  assert tags["metrics/swd/swd_x1e3_avg"] == [2, 6, 8]  # Every phase end.
  assert tags["metrics/swd/swd_x1e3_16"] == [2, 6, 8] and tags["metrics/swd/swd_x1e3_32"] == [6, 8]
  assert tags["metrics/fcd/fcd"] == [6, 8]  # The top level only.
  at_16 = _read_json(os.path.join(config.model_dir, "eval", "step0000002.json"))
  assert at_16["metrics"]["fcd"]["skipped"].startswith("fcd skipped at 16x16")
  fcd = _read_json(os.path.join(config.model_dir, "eval", "step0000008.json"))["metrics"]["fcd"]
  assert "domain classifier for fashion_mnist" in fcd["feature_extractor"]
  # By hand: the classifier on the centre 28x28 of the first 16 reals and of 16 samples.
  subject = subject_lib.from_model_dir(config.model_dir)
  samples = np.concatenate(list(subject.sample_batches(16, 0, batch_size=256)))
  reals, _ = tfrecords.read_level(dataset, 5, limit=16)
  extractor = classifier.load_extractor("fashion_mnist")
  real_features, _ = extractor.features(data.from_uint8(reals).numpy()[:, 2:30, 2:30])
  sample_features, _ = extractor.features(samples[:, 2:30, 2:30])
  assert fcd["fcd"] == pytest.approx(
      frechet.frechet_distance_of_features(real_features, sample_features), rel=1e-5)

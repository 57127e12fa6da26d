"""FID, FCD, KID, IS, classifier score, precision/recall, SWD and MS-SSIM through `evaluate`.

A DCGAN trained one step on the tiny dataset is the subject; Inception-v3 runs
with random weights at 75x75 and the domain classifier is trained for one epoch
on the tiny dataset, so the figures test the plumbing, not quality.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import metrics as metrics_lib
from keras_gen.engine import loop
from keras_gen.metrics import classifier
from keras_gen.metrics import evaluation
from keras_gen.metrics import feature_cache
from keras_gen.metrics import feature_metrics
from keras_gen.metrics import frechet
from keras_gen.metrics import image_sets
from keras_gen.metrics import inception
from keras_gen.metrics import subject as subject_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANDOM_INCEPTION = {"inception_weights": "random", "inception_resolution": "75"}


@pytest.fixture(scope="module")
def tiny_export(tiny_npz, tmp_path_factory):
  config = config_lib.TrainConfig(
      model="dcgan", dataset=f"npz:{tiny_npz}",
      model_dir=str(tmp_path_factory.mktemp("dcgan") / "run"), train_steps=1, batch_size=8,
      checkpoint_every=1000, summary_every=1000, log_every=1000,
      hparams=dict(TINY_HPARAMS["dcgan"]))
  return loop.run(config).export_path


@pytest.fixture(scope="module")
def tiny_classifier(tiny_npz, tmp_path_factory):
  path = str(tmp_path_factory.mktemp("classifier") / "tiny.weights.h5")
  classifier.train(f"npz:{tiny_npz}", path, epochs=1, batch_size=16, verbose=0)
  return path


def _options(tiny_npz, tmp_path, num_samples=32, **extra):
  held_out = data.load(f"npz:{tiny_npz}", "train")
  return subject_lib.Options(held_out=held_out, train=held_out, num_samples=num_samples, seed=0,
                             extra={"feature_cache": str(tmp_path / "cache"), **extra})


def test_classifier_metrics_swd_and_ms_ssim_of_a_tiny_generator_are_recorded(
    tiny_export, tiny_classifier, tiny_npz, tmp_path):
  extra = {"classifier_path": tiny_classifier, "feature_cache": str(tmp_path / "cache"),
           "kid_features": "classifier", "kid_subsets": "10", "kid_subset_size": "16"}
  results = evaluation.evaluate(
      saved_model=tiny_export, dataset=f"npz:{tiny_npz}", split="train", num_samples=32,
      metric_names=["fcd", "kid", "prd", "classifier_score", "swd", "ms_ssim"], extra=extra,
      output=str(tmp_path / "results.json"))
  with open(tmp_path / "results.json") as f:
    written = json.load(f)
  assert written["split"] == "train" and written["seed"] == 0 and written["num_samples"] == 32
  metrics = written["metrics"]
  assert metrics["fcd"]["fcd"] > 0.0 and metrics["fcd"]["num_samples"] == 32
  # The npz is one split, so the baseline is the next 32 of its 64 images.
  assert metrics["fcd"]["baseline_set"].endswith("train examples [32, 64)")
  assert metrics["fcd"]["fcd_real_baseline"] < metrics["fcd"]["fcd"]
  assert "domain classifier" in metrics["kid"]["feature_extractor"]
  assert np.isfinite(metrics["kid"]["kid"]) and metrics["kid"]["subset_size"] == 16
  assert 0.0 <= metrics["prd"]["precision"] <= 1.0 and metrics["prd"]["k"] == 3
  # The Inception Score formula on the classifier's logits, of the samples G draws with the
  # evaluation's seed and of the first 32 held-out images.
  extractor = classifier.load_extractor(f"npz:{tiny_npz}", tiny_classifier)
  samples = subject_lib.from_saved_model(tiny_export).sample(32, 0)
  held_out = data.from_uint8(data.load(f"npz:{tiny_npz}", "train").examples[:32]).numpy()
  for key, images in (("classifier_score", samples), ("classifier_score_real", held_out)):
    expected, _ = frechet.inception_score(extractor.features(images)[1], 10)
    assert metrics["classifier_score"][key] == pytest.approx(expected, rel=1e-6), key
  assert set(metrics["swd"]) >= {"swd_x1e3_16", "swd_x1e3_avg", "swd_x1e3_avg_real_baseline"}
  assert metrics["swd"]["swd_x1e3_avg"] > metrics["swd"]["swd_x1e3_avg_real_baseline"]
  assert 0.0 <= metrics["ms_ssim"]["ms_ssim"] <= 1.0 and metrics["ms_ssim"]["num_pairs"] == 16
  assert results["output"] == str(tmp_path / "results.json")


def test_fid_kid_and_inception_score_run_end_to_end_with_random_inception_weights(
    tiny_export, tiny_npz, tmp_path):
  results = evaluation.evaluate(
      saved_model=tiny_export, dataset=f"npz:{tiny_npz}", split="train", num_samples=16,
      metric_names=["fid", "kid", "is"], output=str(tmp_path / "results.json"),
      extra={**RANDOM_INCEPTION, "kid_subsets": "5", "kid_subset_size": "8"})
  metrics = results["metrics"]
  assert metrics["fid"]["fid"] > 0.0 and "fid_real_baseline" in metrics["fid"]
  assert "bilinear resize to 75x75" in metrics["fid"]["feature_extractor"]
  assert "grey replicated to RGB" in metrics["fid"]["feature_extractor"]
  assert np.isfinite(metrics["kid"]["kid"])
  # Random Inception weights give near-uniform predictions over 1,000 classes: a score just
  # above the floor of 1, computed by the same formula as the classifier score checked above.
  assert 1.0 < metrics["is"]["inception_score"] < 1.5


@pytest.mark.parametrize("kind", ["classifier", "inception"])
def test_frechet_distance_and_kid_of_real_images_grow_with_added_noise(
    kind, tiny_classifier, tiny_npz, tmp_path):
  options = _options(tiny_npz, tmp_path, classifier_path=tiny_classifier, **RANDOM_INCEPTION)
  extractor = feature_metrics.get_extractor(kind, options, "test")
  images = options.held_out.examples.astype(np.float32) / 127.5 - 1.0
  real, _ = extractor.features(images)
  rng = np.random.default_rng(0)
  distances, kids = [], []
  for noise in (0.0, 0.2, 0.5):
    noisy, _ = extractor.features(np.clip(images + noise * rng.standard_normal(images.shape),
                                          -1.0, 1.0).astype(np.float32))
    distances.append(frechet.frechet_distance_of_features(real, noisy))
    kids.append(frechet.kernel_distance(real, noisy, num_subsets=10, subset_size=32)[0])
  assert distances[0] == pytest.approx(0.0, abs=1e-6)
  assert distances == sorted(distances) and distances[2] > distances[1] > 0.0
  assert kids[2] > kids[1] > kids[0]


def test_real_features_are_cached_by_dataset_split_resolution_and_extractor(
    tiny_classifier, tiny_npz, tmp_path):
  options = _options(tiny_npz, tmp_path, classifier_path=tiny_classifier)
  extractor = feature_metrics.get_extractor("classifier", options, "test")
  images = options.held_out.examples[:20]
  first = feature_cache.real_features(extractor, images, "npz:tiny", "train", options)
  second = feature_cache.real_features(extractor, images, "npz:tiny", "train", options)
  assert (first[2], second[2]) == (False, True)
  np.testing.assert_array_equal(first[0], second[0])
  (name,) = os.listdir(tmp_path / "cache")
  assert name.startswith("npz_tiny-train-16x16x1-domain_classifier-n20-")
  third = feature_cache.real_features(extractor, images[:10], "npz:tiny", "train", options)
  assert not third[2] and len(os.listdir(tmp_path / "cache")) == 2


def test_random_inception_features_are_never_cached(tiny_npz, tmp_path):
  options = _options(tiny_npz, tmp_path, **RANDOM_INCEPTION)
  extractor = feature_metrics.get_extractor("inception", options, "test")
  images = np.zeros((2, 16, 16, 1), np.uint8)
  assert not feature_cache.real_features(extractor, images, "x", "train", options)[2]
  assert not os.path.exists(tmp_path / "cache")


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  monkeypatch.setattr(inception, "keras_cache_candidates",
                      lambda: [str(tmp_path / "models" / inception.WEIGHTS_FILE)])
  with pytest.raises(config_lib.ConfigError, match="inception_weights=PATH") as error:
    inception.resolve_weights("")
  assert inception.WEIGHTS_URL in str(error.value)
  with pytest.raises(config_lib.ConfigError, match="is not a file"):
    inception.resolve_weights(str(tmp_path / "nothing.h5"))


def test_samples_of_another_shape_are_refused(tiny_export, tmp_path):
  path = tmp_path / "small.npz"
  np.savez(path, images=np.zeros((8, 8, 8, 1), np.uint8), labels=np.zeros(8, np.int64))
  with pytest.raises(config_lib.ConfigError, match=r"makes samples of shape \(16, 16, 1\)"):
    evaluation.evaluate(saved_model=tiny_export, dataset=f"npz:{path}", metric_names=["swd"],
                        num_samples=8, output=str(tmp_path / "r.json"))


def test_a_points_dataset_is_refused(tiny_export, tmp_path):
  with pytest.raises(config_lib.ConfigError, match="compares images, but dataset 'ring8'"):
    evaluation.evaluate(saved_model=tiny_export, dataset="ring8", metric_names=["ms_ssim"],
                        num_samples=8, output=str(tmp_path / "r.json"))


def test_a_classifier_for_another_image_shape_is_refused(tiny_classifier, tmp_path):
  path = tmp_path / "small.npz"
  np.savez(path, images=np.zeros((8, 8, 8, 1), np.uint8))
  options = _options(path, tmp_path, classifier_path=tiny_classifier)
  with pytest.raises(config_lib.ConfigError, match=r"expects \(16, 16, 1\)"):
    feature_metrics.get_extractor("classifier", options, "fcd")


def test_evaluate_cli_writes_every_metric_and_keeps_the_others_when_inception_is_missing(
    tiny_export, tiny_classifier, tiny_npz, tmp_path):
  output = tmp_path / "results.json"
  options = (f"classifier_path={tiny_classifier},feature_cache={tmp_path / 'cache'},"
             "kid_features=classifier,kid_subset_size=16,kid_subsets=5")
  command = [sys.executable, "-m", "keras_gen.evaluate", f"--saved_model={tiny_export}",
             f"--dataset=npz:{tiny_npz}", "--split=train", "--num_samples=32",
             f"--metric_options={options}"]
  result = subprocess.run(command + ["--metrics=fcd,kid,prd,swd,ms_ssim", f"--output={output}"],
                          capture_output=True, text=True, cwd=REPO)
  assert result.returncode == 0, result.stderr
  with open(output) as f:
    assert sorted(json.load(f)["metrics"]) == ["fcd", "kid", "ms_ssim", "prd", "swd"]
  assert "fcd_real_baseline" in result.stdout
  environment = dict(os.environ, KERAS_HOME=str(tmp_path / "keras"), HOME=str(tmp_path))
  partial_output = tmp_path / "without_inception.json"
  result = subprocess.run(command + ["--metrics=fcd,fid", f"--output={partial_output}"],
                          capture_output=True, text=True, cwd=REPO, env=environment)
  assert result.returncode == 2
  assert "Inception-v3 weights are not in the Keras cache" in result.stderr
  assert str(partial_output) in result.stderr
  # The FCD computed before FID failed is kept, and FID records why it is missing.
  with open(output) as f, open(partial_output) as g:
    complete, partial = json.load(f)["metrics"], json.load(g)["metrics"]
  assert partial["fcd"]["fcd"] == pytest.approx(complete["fcd"]["fcd"], rel=1e-5)
  assert "Inception-v3 weights" in partial["fid"]["error"]


def test_networks_in_memory_give_the_figures_of_their_checkpoint(tiny_export):
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  model_dir = os.path.dirname(os.path.dirname(tiny_export))
  run = restore.load_run(model_dir)
  in_memory = evaluation.evaluate_networks(run.family, run.networks, run.config, run.step,
                                           ["ms_ssim", "swd"], num_samples=16)
  assert in_memory["output"] == os.path.join(model_dir, "eval", "step0000001.json")
  from_checkpoint = evaluation.evaluate(model_dir=model_dir, metric_names=["ms_ssim", "swd"],
                                        num_samples=16, output=in_memory["output"] + ".2")
  for metric, key in (("ms_ssim", "ms_ssim"), ("swd", "swd_x1e3_avg")):
    assert in_memory["metrics"][metric][key] == pytest.approx(
        from_checkpoint["metrics"][metric][key], rel=1e-6)


def test_classifier_metrics_are_skipped_on_reals_box_filtered_below_the_classifiers_size(
    tiny_classifier, tiny_npz, tmp_path):
  options = _options(tiny_npz, tmp_path, classifier_path=tiny_classifier)
  at_8x8 = dataclasses.replace(options, held_out=image_sets.box_filtered(options.held_out, 8),
                               box_filtered_from=(16, 16, 1))
  with pytest.raises(metrics_lib.MetricSkipped, match=(
      "^fcd skipped at 8x8: the domain classifier learned from 16x16 images and has no "
      "features for a lower level's.$")):
    feature_metrics.get_extractor("classifier", at_8x8, "fcd")
  assert feature_metrics.get_extractor("classifier", options, "fcd").input_shape == (16, 16, 1)

"""Tests for keras_gen.metrics.modes: the pinned mode-coverage protocol, and end to end."""

import numpy as np
import pytest

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen.engine import loop
from keras_gen.metrics import evaluation
from keras_gen.metrics import modes


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_exactly_at_the_modes_cover_all_modes_with_zero_reverse_kl(name):
  means = data.mixture_modes(name)
  samples = np.tile(means, (10, 1))
  result = modes.mode_coverage(samples, means, data.mixture_std(name))
  assert result == {"modes_covered": len(means), "num_modes": len(means),
                    "high_quality_fraction": 1.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_samples_all_at_one_mode_cover_one_mode_with_reverse_kl_log_k(name):
  means = data.mixture_modes(name)
  samples = np.repeat(means[3:4], 100, axis=0)
  result = modes.mode_coverage(samples, means, data.mixture_std(name))
  assert result["modes_covered"] == 1
  assert result["high_quality_fraction"] == 1.0
  assert result["reverse_kl"] == pytest.approx(np.log(len(means)))


def test_samples_beyond_three_stds_are_not_high_quality_and_cover_nothing():
  means = data.mixture_modes("grid25")
  inside = means + np.array([2.9 * 0.05, 0.0])
  outside = means + np.array([3.1 * 0.05, 0.0])
  result = modes.mode_coverage(np.concatenate([inside[:5], outside]), means, 0.05)
  assert result["modes_covered"] == 5
  assert result["high_quality_fraction"] == pytest.approx(5 / 30)
  # High-quality samples sit on 5 of 25 modes equally: KL = log(25 / 5).
  assert result["reverse_kl"] == pytest.approx(np.log(5))


def test_the_ring8_held_out_split_itself_scores_eight_modes_and_about_99_percent_quality():
  points, _ = data.load("ring8", "test", None, None, 0).examples, None
  result = modes.mode_coverage(points, data.mixture_modes("ring8"), 0.02)
  assert result["modes_covered"] == 8
  # Within 3 std in 2-D: 1 - exp(-9 / 2) = 0.989 of a Gaussian's mass.
  assert result["high_quality_fraction"] == pytest.approx(1 - np.exp(-4.5), abs=0.005)
  assert result["reverse_kl"] < 0.01


def test_unrolled_gan_run_is_evaluated_with_the_modes_metric_end_to_end(tmp_path):
  config = config_lib.TrainConfig(
      model="unrolled_gan", dataset="ring8", model_dir=str(tmp_path / "run"), train_steps=4,
      batch_size=16, summary_every=2, log_every=2, checkpoint_every=4,
      hparams={"latent_dim": 4, "g_units": 16, "d_units": 16, "unroll_steps": 2})
  loop.run(config)
  results = evaluation.evaluate(model_dir=config.model_dir, metric_names=["modes"], seed=1)
  values = results["metrics"]["modes"]
  for count in (2500, 100000):
    assert values[f"num_modes_{count}"] == 8
    assert 0 <= values[f"modes_covered_{count}"] <= 8
    assert 0.0 <= values[f"high_quality_fraction_{count}"] <= 1.0
    assert 0.0 <= values[f"reverse_kl_{count}"] <= np.log(8) + 1e-9
  assert values["plot"].endswith("samples/points_over_training.png")
  from_export = evaluation.evaluate(saved_model=str(tmp_path / "run" / "export"),
                                    metric_names=["modes"], seed=1)
  assert from_export["metrics"]["modes"]["modes_covered_2500"] == values["modes_covered_2500"]

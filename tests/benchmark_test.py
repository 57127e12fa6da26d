"""The benchmark's arithmetic; its speeds are printed by tools/benchmark.py, never asserted."""

import json
import os
import subprocess
import sys

import pytest

from keras_gen.bench import benchmark


def test_matmul_rate_is_a_positive_number_of_gflops():
  assert benchmark.matmul_gflops(size=64, repeats=2) > 0


def test_measure_reports_every_mode_the_executed_flops_the_ops_and_the_machine(tiny_config):
  modes = (benchmark.Mode("none", False), benchmark.Mode("mixed_bfloat16", True))
  results = benchmark.measure(tiny_config("autoencoder"), steps=3, modes=modes, ops=True,
                              matmul_size=128)

  assert list(results["modes"]) == ["float32", "mixed_bfloat16 + XLA"]
  assert 0 < results["flops_per_step"] <= results["profiler_flops_per_step"]
  assert results["flops_per_image"] == results["flops_per_step"] / 8
  assert results["flops_per_step"] == sum(row["flops"] for row in results["ops"]["rows"])
  for mode in results["modes"].values():
    assert mode["images_per_sec"] > 0 and mode["fraction_of_matmul"] > 0
  assert results["fastest"] in results["modes"]
  assert results["run_mode"] == "float32"  # The config's own: no XLA, precision none.
  assert results["machine"]["cpu"] and results["input_headroom"] > 0
  report = benchmark.format_report(results)
  assert "executed" in report and "op by op" in report and results["machine"]["cpu"] in report
  assert (f"{results['flops_per_image'] / 1e9:.4f} GFLOP per image of the 8 the step trains "
          f"on; non-finite guard --on_nonfinite=skip") in report
  assert "matmul 128x128: float32" in report
  assert f"fastest: {results['fastest']}; a run of this configuration here uses float32" in report


def test_the_run_mode_is_the_configs_auto_choices_resolved_for_this_machine(tiny_config,
                                                                              monkeypatch):
  monkeypatch.setattr(benchmark.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": ["avx2"]})
  results = benchmark.measure(tiny_config("autoencoder", xla="auto", mixed_precision="auto"),
                              steps=1, modes=(benchmark.Mode("none", False),), matmul_size=64)
  assert results["run_mode"] == "float32 + XLA"


def test_a_wgan_gp_steps_work_per_image_is_over_every_critic_minibatch(tiny_config):
  config = tiny_config("wgan_gp", hparams={"latent_dim": 8, "g_filters": 4, "d_filters": 4,
                                           "n_critic": 2})
  results = benchmark.measure(config, steps=1, modes=(benchmark.Mode("none", False),),
                              matmul_size=64)

  assert results["examples_per_step"] == 16  # Two critic minibatches of 8.
  assert results["flops_per_image"] == results["flops_per_step"] / 16
  mode = results["modes"]["float32"]
  assert mode["images_per_sec"] == pytest.approx(16 / mode["step_seconds"])
  assert mode["gflops"] == pytest.approx(results["flops_per_image"] * mode["images_per_sec"] / 1e9)


def test_the_tool_times_the_recipe_at_the_resolution_flag_with_the_recipes_guard(
    real_fashion_mnist_idx, tmp_path):
  # The Fashion-MNIST recipes train 28x28 or zero-padded 32x32 images; --resolution
  # chooses which the step is timed on. The recipe's --on_nonfinite is part of its step.
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  recipe = tmp_path / "restore.json"
  recipe.write_text(json.dumps({"config": {"model": "autoencoder", "dataset": "fashion_mnist",
                                            "on_nonfinite": "restore"}}))
  result = subprocess.run(
      [sys.executable, os.path.join(repo, "tools", "benchmark.py"), f"--recipe={recipe}",
       f"--data_dir={real_fashion_mnist_idx}", "--matmul_size=128",
       "--resolution=32", "--batch_size=8", "--steps=2", "--xla=off", "--precisions=none",
       "--hparams=filters=4,code_size=8"],
      capture_output=True, text=True, check=False)

  assert result.returncode == 0, result.stderr[-3000:]
  assert "autoencoder on fashion_mnist (32x32x1), global batch 8" in result.stdout
  assert "GFLOP per image of the 8 the step trains on; non-finite guard --on_nonfinite=restore" in (
      result.stdout)
  overridden = subprocess.run(result.args + ["--on_nonfinite=skip"], capture_output=True,
                              text=True, check=False)
  assert overridden.returncode == 0, overridden.stderr[-3000:]
  assert "non-finite guard --on_nonfinite=skip" in overridden.stdout


def test_an_xla_only_benchmark_reports_no_profiler_count_rather_than_zero(tiny_config):
  results = benchmark.measure(tiny_config("autoencoder"), steps=2,
                              modes=(benchmark.Mode("none", True),), matmul_size=128)

  assert results["flops_per_step"] > 0
  assert results["profiler_flops_per_step"] is None
  assert ("TensorFlow's profiler does not count inside an XLA-compiled step"
          in benchmark.format_report(results))


@pytest.mark.parametrize("flags,message", [
    (["--xla=on", "--precisions=none"], "--record_policy needs a comparison: time --xla=both, "
     "or float32 and mixed_bfloat16 (--precisions=none,mixed_bfloat16)."),
    (["--memory=dcgan_fashion_mnist"], "--record_policy records a recipe's step timings; it "
     "does not go with --progan_levels or --memory."),
])
def test_record_policy_without_a_comparison_is_refused_before_timing(flags, message):
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  result = subprocess.run([sys.executable, os.path.join(repo, "tools", "benchmark.py"),
                           "--record_policy"] + flags, capture_output=True, text=True,
                          check=False)
  assert result.returncode == 2
  assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [
      f"Error: {message}"]

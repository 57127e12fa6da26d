"""Progressive GAN per level: the CelebA-HQ recipe's full-size networks step at every level
up to 128x128, and `tools/benchmark.py --progan_levels` times levels and estimates a run.

256x256 to 1024x1024 are left to the benchmark mode: on this project's idle 2-core AVX2
machine one graph step of minibatch 2 took 18 s at 256x256 and 45 s at 1024x1024 (10.7 GB
resident), too much for CI (README's Benchmark has the table for every level).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import schedule
from keras_gen.engine import progan_benchmark
from keras_gen.engine import step_context
from keras_gen.families import progan

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_celeba_hq_networks_at_full_width_take_a_finite_step_at_every_level_to_128():
  hparams = dict(progan.DEFAULT_HPARAMS, **config_lib.load_recipe("progan_celeba_hq")["hparams"])
  assert (hparams["fmap_base"], hparams["fmap_max"], hparams["latent_dim"]) == (8192, 512, 512)
  # A level's blocks do not depend on the top resolution: levels 4..128 of the 1024x1024
  # networks are these, every 512-map block among them. 256 to 1024 cost 18-45 s per
  # step on a 2-core CPU: `tools/benchmark.py --progan_levels=all --resolution=1024` steps them
  # (README's Benchmark has its table).
  networks = progan.build(hparams, (128, 128, 3))
  optimizers = {}
  for name, (optimizer, variables) in progan.optimizers(hparams, networks).items():
    optimizer.build(variables)
    optimizers[name] = optimizer
  assert networks["G"].b4_dense.kernel.shape == (512, 512 * 16)
  assert [networks["G"].blocks[f"b{2 ** level}"][1].kernel.shape[-1]
          for level in range(3, 8)] == [512, 512, 512, 256, 128]
  phase = schedule.PhaseState()
  phase.alpha.assign(0.5)
  for level in range(2, 8):
    context = step_context.StepContext(step=tf.constant(level, tf.int64), seed=0,
                                       global_batch_size=2, phase=phase)
    images = tf.random.stateless_uniform([2, 2 ** level, 2 ** level, 3], [0, level], -1.0, 1.0)
    before = [v.numpy() for v in networks["D"].variables_at(level)]
    losses = progan.train_step(networks, optimizers, {"images": images}, context, hparams)
    assert all(np.isfinite(float(value)) for value in losses.values()), (level, losses)
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(before, networks["D"].variables_at(level))), level


def test_the_estimate_sums_each_phases_images_over_its_levels_measured_rate():
  phases = [schedule.Phase(level=2, kimg=1, transition=False, batch_size=8, learning_rates={}),
            schedule.Phase(level=3, kimg=2, transition=True, batch_size=8, learning_rates={}),
            schedule.Phase(level=3, kimg=0.5, transition=False, batch_size=8, learning_rates={})]
  rows = [{"level": 2, "images_per_sec": 1000.0}, {"level": 3, "images_per_sec": 500.0}]
  estimate = progan_benchmark.estimate_duration(phases, rows)
  assert estimate["phases"] == [(2, 1, 1.0), (3, 2, 4.0), (3, 0.5, 1.0)]
  assert (estimate["seconds"], estimate["images"]) == (6.0, 3500)
  assert estimate["average_images_per_sec"] == pytest.approx(3500 / 6.0)
  unmeasured = progan_benchmark.estimate_duration(phases, rows[:1])
  assert unmeasured["seconds"] is None and unmeasured["phases"][1] == (3, 2, None)


def test_one_level_is_timed_in_this_process_with_its_batch_and_peak_memory():
  config = config_lib.TrainConfig(model="progan", dataset="progan:unused",
                                  hparams=dict(TINY_HPARAMS["progan"]))
  row = progan_benchmark.measure_level(config, (8, 8, 1), level=3, batch_size=4, steps=2)
  assert (row["level"], row["resolution"], row["batch_size"]) == (3, 8, 4)
  assert row["steps_timed"] == 2  # Fewer than asked only past the time budget.
  assert row["images_per_sec"] * row["seconds_per_step"] == pytest.approx(4.0)
  assert 0 < row["training_peak_mb"] and 0 < row["process_peak_mb"]


def test_the_benchmark_flag_times_each_level_in_its_own_process_and_estimates_the_run(
    tmp_path):
  recipe = tmp_path / "tiny.json"
  recipe.write_text(json.dumps({"config": {"model": "progan", "dataset": "progan:missing",
                                            "hparams": TINY_HPARAMS["progan"]}}))
  command = [sys.executable, os.path.join(REPO, "tools", "benchmark.py"), f"--recipe={recipe}",
             "--progan_levels=all", "--steps=3"]
  missing = subprocess.run(command, capture_output=True, text=True, check=False)
  assert missing.returncode == 2
  assert "pass --resolution (and --channels)" in missing.stderr
  result = subprocess.run(command + ["--resolution=8", "--channels=1",
                                     f"--output={tmp_path / 'levels.json'}"],
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert any(line.split()[:2] == ["4x4", "8"] for line in lines), result.stdout
  assert any(line.split()[:2] == ["8x8", "8"] for line in lines), result.stdout
  assert "The schedule (0.048 kimg in 2 phases) at these rates" in result.stdout
  assert "precision none, without XLA" in result.stdout  # The recipe sets neither.

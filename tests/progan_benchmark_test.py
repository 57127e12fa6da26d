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
from keras_gen.bench import progan_benchmark
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
                                       global_batch_size=2, family_state=phase)
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
  row = progan_benchmark.measure_level(config, (8, 8, 1), level=3, batch_size=4, steps=2,
                                       matmul_size=64)
  assert (row["level"], row["resolution"], row["batch_size"]) == (3, 8, 4)
  assert row["steps_timed"] == 2  # Fewer than asked only past the time budget.
  assert row["images_per_sec"] * row["seconds_per_step"] == pytest.approx(4.0)
  assert 0 < row["training_peak_mb"] and 0 < row["process_peak_mb"]


def _conv(side, kernel, maps_in, maps_out):
  return 2 * side * side * kernel * kernel * maps_in * maps_out


# Forward FLOP per image of each layer of the tiny networks (8 maps, 1 channel) at 4x4 and
# at 8x8, where the old path's 4x4 toRGB and fromRGB run beside the new block.
G_4 = {"dense": 2 * 8 * 128, "conv": _conv(4, 3, 8, 8), "to_rgb": _conv(4, 1, 8, 1)}
D_4 = {"from_rgb": _conv(4, 1, 1, 8), "conv": _conv(4, 3, 8, 8), "dense": 2 * 128 * 8,
       "score": 2 * 8}
G_8 = dict(G_4, b8_conv0=_conv(8, 3, 8, 8), b8_conv1=_conv(8, 3, 8, 8),
           b8_to_rgb=_conv(8, 1, 8, 1))
D_8 = dict(D_4, b8_from_rgb=_conv(8, 1, 1, 8), b8_conv0=_conv(8, 3, 8, 8),
           b8_conv1=_conv(8, 3, 8, 8))


def _hand_count(g_layers, d_layers, penalty=True):
  """FLOP per image of one step. G's layers run forward for D's fakes and for G's update,
  then backward: weight gradients, and input gradients but toward z: 3x the dense layer,
  4x the others. A D layer followed by a LeakyReLU runs forward on reals, fakes and G's
  fakes (3); weight and input gradients through reals and fakes (4); the input gradient
  toward G in G's update (1): 8x. With a gradient penalty (WGAN-GP's at the interpolates,
  R1's at the reals) it also runs forward on those images (1), takes their input gradient
  (1) and, in the double backprop, the weight and output gradients of that input gradient
  (2): 12x. LeakyReLU is max(x, 0.2x), whose second derivative is no pass at all. fromRGB:
  no input gradient toward reals or fakes: 6x; 10x with the penalty (for lazy R1 one of
  the 4 is the reals' input gradient that its cond's gradient returns and nothing uses;
  progan_r1_test counts it). The score, with no LeakyReLU after it: 8x; with the penalty
  its output on the penalty's images and the gradient of its own output gradient feed
  nothing: 10x."""
  multiplier = {"dense": 3}
  g = sum(multiplier.get(name, 4) * flops for name, flops in g_layers.items())
  conv, from_rgb, score = (12, 10, 10) if penalty else (8, 6, 8)
  d = sum((from_rgb if "from_rgb" in name else score if name == "score" else conv) * flops
          for name, flops in d_layers.items())
  return g + d


@pytest.mark.parametrize("level, g_layers, d_layers, per_image",
                         [(2, G_4, D_4, 329376), (3, G_8, D_8, 2703008)])
def test_a_levels_step_executes_the_flops_counted_by_hand_layer_by_layer(level, g_layers,
                                                                         d_layers, per_image):
  assert _hand_count(g_layers, d_layers) == per_image
  # Without minibatch stddev D is convolutions, dense layers and LeakyReLUs only.
  config = config_lib.TrainConfig(model="progan", dataset="progan:unused",
                                  hparams=dict(TINY_HPARAMS["progan"], mbstd_group_size=0))

  row = progan_benchmark.measure_level(config, (8, 8, 1), level=level, batch_size=4, steps=1,
                                       matmul_size=64)

  assert row["flops_per_step"] == 4 * per_image
  assert row["gflop_per_image"] == pytest.approx(per_image / 1e9)
  assert row["gflops"] == pytest.approx(4 * per_image / row["seconds_per_step"] / 1e9)
  assert row["fraction_of_matmul"] == pytest.approx(row["gflops"] / row["matmul_gflops"])
  assert "r1_interval" not in row


@pytest.mark.parametrize("level, g_layers, d_layers, with_r1, without_r1",
                         [(2, G_4, D_4, 329376, 246400), (3, G_8, D_8, 2703008, 2026112)])
def test_with_lazy_r1_a_level_costs_the_average_over_r1_interval_steps_counted_by_hand(
    level, g_layers, d_layers, with_r1, without_r1):
  assert (_hand_count(g_layers, d_layers), _hand_count(g_layers, d_layers, penalty=False)) == (
      with_r1, without_r1)
  config = config_lib.TrainConfig(model="progan", dataset="progan:unused", hparams=dict(
      TINY_HPARAMS["progan"], mbstd_group_size=0, loss="ns_r1", r1_interval=4))

  row = progan_benchmark.measure_level(config, (8, 8, 1), level=level, batch_size=4, steps=1,
                                       matmul_size=64)

  assert (row["flops_per_step_with_r1"], row["flops_per_step_without_r1"]) == (
      4 * with_r1, 4 * without_r1)
  assert row["flops_per_step"] == 4 * (with_r1 + 3 * without_r1) / 4
  assert (row["r1_interval"], row["steps_timed"]) == (4, 4)  # One whole interval.


def test_the_channels_come_from_dataset_json_else_the_folders_name_else_three(tmp_path):
  def shape(path, channels=0):
    config = config_lib.TrainConfig(model="progan", dataset=f"progan:{path}")
    return progan_benchmark.data_shape(config, resolution=32, channels=channels)

  grey = tmp_path / "faces"
  grey.mkdir()
  (grey / "dataset.json").write_text(json.dumps({"resolution": 32, "channels": 1}))
  assert shape(grey) == ((32, 32, 1), str(grey / "dataset.json"))
  assert shape(grey, channels=3) == ((32, 32, 3), "--channels")
  assert shape(tmp_path / "fashion_mnist32") == (
      (32, 32, 1), "the folder's name: fashion_mnist is grayscale")
  assert shape(tmp_path / "cifar10_padded") == ((32, 32, 3), "the folder's name: cifar10 is RGB")
  assert shape(tmp_path / "faces64") == ((32, 32, 3), "assumed RGB: pass --channels if not")


def test_a_dataset_json_that_is_not_json_or_gives_no_channels_is_named(tmp_path):
  (tmp_path / "dataset.json").write_text("{channels: 1")
  with pytest.raises(config_lib.ConfigError) as not_json:
    progan_benchmark.dataset_channels(str(tmp_path))
  assert str(not_json.value) == (
      f"{tmp_path / 'dataset.json'} cannot be read as JSON (Expecting property name enclosed "
      f"in double quotes: line 1 column 2 (char 1)); fix or remove it, or pass --channels.")
  (tmp_path / "dataset.json").write_text(json.dumps({"resolution": 32, "channels": 4}))
  with pytest.raises(config_lib.ConfigError) as no_channels:
    progan_benchmark.dataset_channels(str(tmp_path))
  assert str(no_channels.value) == (
      f'{tmp_path / "dataset.json"} gives no channel count ("channels": 1 or 3); fix it, or '
      f"pass --channels.")


def test_the_benchmark_flag_times_each_level_in_its_own_process_and_estimates_the_run(
    tmp_path):
  # A 1-channel dataset known only by its dataset.json, whose TFRecords are not there.
  dataset = tmp_path / "grey"
  dataset.mkdir()
  (dataset / "dataset.json").write_text(json.dumps({"resolution": 8, "channels": 1}))
  recipe = tmp_path / "tiny.json"
  hparams = dict(TINY_HPARAMS["progan"], minibatch_overrides={"4": 16})
  recipe.write_text(json.dumps({"config": {"model": "progan", "dataset": f"progan:{dataset}",
                                            "hparams": hparams}}))
  command = [sys.executable, os.path.join(REPO, "tools", "benchmark.py"), f"--recipe={recipe}",
             "--progan_levels=all", "--steps=3", "--matmul_size=128"]
  missing = subprocess.run(command, capture_output=True, text=True, check=False)
  assert missing.returncode == 2
  assert "pass --resolution (and --channels)" in missing.stderr
  result = subprocess.run(command + ["--resolution=8", f"--output={tmp_path / 'levels.json'}"],
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert f"(8x8x1; channels from {dataset / 'dataset.json'})" in result.stdout
  header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["resolution"])
  assert lines[header].split() == [
      "resolution", "batch", "ms/step", "img/s", "GFLOP/img", "GFLOP/s", "matmul", "of",
      "matmul", "first", "step", "s", "training", "peak", "MB", "process", "peak", "MB"]
  results = json.loads((tmp_path / "levels.json").read_text())
  assert [row["level"] for row in results["levels"]] == [2, 3]
  # The schedule's minibatch at each level: the override at 4x4, the default at 8x8.
  for row, (side, batch) in zip(results["levels"], [("4x4", 16), ("8x8", 8)]):
    assert row["batch_size"] == batch
    assert lines[header + row["level"] - 1].split()[:8] == [
        side, str(batch), f"{row['seconds_per_step'] * 1e3:.1f}", f"{row['images_per_sec']:.2f}",
        f"{row['gflop_per_image']:.4f}", f"{row['gflops']:.1f}", f"{row['matmul_gflops']:.1f}",
        f"{100 * row['fraction_of_matmul']:.0f}%"]
  assert "The schedule (0.048 kimg in 2 phases) at these rates" in result.stdout
  assert "precision none, without XLA" in result.stdout  # The recipe sets neither.

"""The training loop: replica equivalence, resume, summaries and signals."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_same_checkpoint_values
from conftest import assert_same_weights
from conftest import checkpoint_values
from conftest import event_tags
from conftest import network_weights
from conftest import TINY_HPARAMS
import nan_families
from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen.engine import loop
from keras_gen.engine import restore
from keras_gen.engine import step_context


@pytest.mark.parametrize("model", ["autoencoder", "dcgan"])
def test_one_step_on_two_replicas_gives_the_weights_of_one_device(tiny_config, model):
  one_device = tiny_config(model, "one", train_steps=1)
  two_replicas = tiny_config(model, "two", train_steps=1, strategy="mirrored", cpu_replicas=2)
  loop.run(one_device)
  loop.run(two_replicas)
  before = network_weights(one_device.model_dir)
  assert_same_weights(before, network_weights(two_replicas.model_dir), atol=1e-5, rtol=1e-4)


def test_k_critic_steps_on_two_replicas_see_the_minibatches_of_one_device(tiny_config):
  one_device = tiny_config("wgan", "one", train_steps=1, hparams={"n_critic": 2})
  two_replicas = tiny_config("wgan", "two", train_steps=1, strategy="mirrored", cpu_replicas=2,
                             hparams={"n_critic": 2})
  loop.run(one_device)
  loop.run(two_replicas)
  assert_same_weights(network_weights(one_device.model_dir),
                      network_weights(two_replicas.model_dir), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("model", ["autoencoder", "dcgan"])
def test_training_in_two_halves_gives_the_weights_of_one_run(tiny_config, model):
  whole = tiny_config(model, "whole", train_steps=4)
  halves = tiny_config(model, "halves", train_steps=2)
  loop.run(whole)
  first = loop.run(halves)
  halves.train_steps = 4
  second = loop.run(halves)
  assert first.step == 2 and second.start_step == 2 and second.step == 4
  assert_same_weights(network_weights(whole.model_dir), network_weights(halves.model_dir))


def test_a_step_moves_every_trained_weight_by_at_most_the_learning_rate_and_one_by_it(
    tiny_config):
  # Adam's first update is lr * g / (|g| + epsilon): lr in size wherever |g| >> epsilon.
  config = tiny_config("dcgan", train_steps=1, log_every=1)
  result = loop.run(config)
  assert set(result.losses) == {"d_loss", "g_loss"}
  assert all(np.isfinite(value) for value in result.losses.values())
  family, _ = registry.get_family("dcgan")
  keras.utils.set_random_seed(config.seed)
  initial = family.build(config.hparams, tuple(config.element_shape))
  trained = restore.load_run(config.model_dir).networks
  for name, rate in (("G", "g_learning_rate"), ("D", "d_learning_rate")):
    moved = [np.abs(after.numpy() - before.numpy()) for after, before in
             zip(trained[name].trainable_variables, initial[name].trainable_variables)]
    assert max(m.max() for m in moved) == pytest.approx(config.hparams[rate], rel=1e-3)
    assert all(m.max() <= config.hparams[rate] * (1 + 1e-3) for m in moved)  # float32 rounding.


def test_rerunning_a_finished_run_trains_no_further_and_reexports(tiny_config):
  config = tiny_config("autoencoder", train_steps=2)
  loop.run(config)
  weights = network_weights(config.model_dir)
  again = loop.run(config)
  assert again.start_step == 2 and again.step == 2
  assert_same_weights(weights, network_weights(config.model_dir))
  assert os.path.isdir(again.export_path)


@pytest.mark.parametrize("model,image_tag", [("autoencoder", "reconstructions"),
                                             ("dcgan", "samples")])
def test_tensorboard_logs_losses_rates_speed_images_and_config(tiny_config, model, image_tag):
  config = tiny_config(model, train_steps=2, log_every=1, summary_every=2)
  loop.run(config)
  tags = event_tags(config.model_dir)
  losses = {"autoencoder": ["loss/loss", "loss/mse"],
            "dcgan": ["loss/d_loss", "loss/g_loss"]}[model]
  for tag in losses + ["perf/images_per_sec", "perf/step_time_ms", image_tag, "config"]:
    assert tag in tags, f"{tag} missing from {sorted(tags)}"
  assert tags[losses[0]] == [1, 2]
  assert any(tag.startswith("learning_rate/") for tag in tags)
  assert os.path.exists(os.path.join(config.model_dir, "samples", f"{image_tag}_step0000002.png"))


def test_a_sample_png_is_a_grid_of_the_logged_images(tiny_config):
  config = tiny_config("autoencoder", train_steps=1, summary_every=1)
  loop.run(config)
  png = tf.io.decode_png(tf.io.read_file(
      os.path.join(config.model_dir, "samples", "reconstructions_step0000001.png")))
  # 64 held-out images, each beside its reconstruction: 128 tiles of 16x16 in a 12x11 grid.
  assert png.shape == (11 * 16, 12 * 16, 1)


def test_unknown_hyperparameter_is_refused_before_anything_is_written(tiny_config):
  config = tiny_config("dcgan", hparams={"latnt_dim": 3})
  with pytest.raises(config_lib.ConfigError, match="latnt_dim.*valid: .*latent_dim"):
    loop.run(config)
  assert not os.path.exists(config.model_dir)


def test_a_model_dir_of_another_model_is_refused(tiny_config):
  loop.run(tiny_config("autoencoder", train_steps=1))
  with pytest.raises(config_lib.ConfigError, match="holds a run with model='autoencoder'"):
    loop.run(tiny_config("dcgan", train_steps=1))


def test_batch_not_divisible_by_replicas_is_refused(tiny_config):
  config = tiny_config("autoencoder", batch_size=7, strategy="mirrored", cpu_replicas=2)
  with pytest.raises(config_lib.ConfigError, match="not divisible by the 2 replicas"):
    loop.run(config)


def test_xla_step_matches_the_plain_step(tiny_config):
  plain = tiny_config("autoencoder", "plain", train_steps=2)
  compiled = tiny_config("autoencoder", "xla", train_steps=2, xla=True)
  loop.run(plain)
  loop.run(compiled)
  assert_same_weights(network_weights(plain.model_dir), network_weights(compiled.model_dir),
                      atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("cpu_flags,compiled", [(["avx2"], True), (["avx2", "avx512f"], False)])
def test_xla_auto_is_resolved_for_the_cpu_and_recorded_in_config_json(
    tiny_config, monkeypatch, cpu_flags, compiled):
  monkeypatch.setattr(loop.strategies.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": cpu_flags})
  config = tiny_config("autoencoder", train_steps=1, xla="auto")
  loop.run(config)
  with open(os.path.join(config.model_dir, "config.json")) as f:
    assert json.load(f)["xla"] is compiled


def test_mixed_bfloat16_trains_with_float32_weights(tiny_config):
  config = tiny_config("dcgan", train_steps=1, mixed_precision="mixed_bfloat16", log_every=1)
  result = loop.run(config)
  assert all(np.isfinite(value) for value in result.losses.values())
  weights = network_weights(config.model_dir)
  assert all(w.dtype == np.float32 for w in weights["G"])


@pytest.mark.parametrize("native_bfloat16,chosen", [(True, "mixed_bfloat16"), (False, "none")])
def test_auto_precision_trains_and_records_what_it_chose(tiny_config, monkeypatch, capsys,
                                                         native_bfloat16, chosen):
  from keras_gen.engine import strategies
  flags = ["avx2", "avx512f"] + (["avx512_bf16"] if native_bfloat16 else [])
  described = strategies.machine.describe()
  monkeypatch.setattr(strategies.machine, "describe", lambda: dict(described, cpu_flags=flags))
  config = tiny_config("dcgan", train_steps=1, mixed_precision="auto")
  loop.run(config)
  with open(os.path.join(config.model_dir, "config.json")) as f:
    assert json.load(f)["mixed_precision"] == chosen
  assert "Precision auto: " + ("mixed_bfloat16" if native_bfloat16 else "float32") in (
      capsys.readouterr().out)


@pytest.fixture
def nan_autoencoder(monkeypatch):
  from keras_gen.families import autoencoder
  return nan_families.register(monkeypatch, "nan_autoencoder", autoencoder)


def test_a_nan_step_is_skipped_and_leaves_every_variable_untouched(tiny_config, nan_autoencoder):
  before = tiny_config(nan_autoencoder, "before", train_steps=2)
  poisoned = tiny_config(nan_autoencoder, "poisoned", train_steps=3, hparams={"nan_steps": [3]})
  loop.run(before)
  result = loop.run(poisoned)
  assert result.nonfinite_steps == [3]
  # The weights, the optimizer's slots and iteration count.
  assert_same_checkpoint_values(checkpoint_values(before.model_dir),
                                checkpoint_values(poisoned.model_dir))


@pytest.fixture
def nan_dcgan(monkeypatch):
  from keras_gen import registry
  from keras_gen.families import gan
  return nan_families.register(monkeypatch, "nan_dcgan", gan, registry.MODELS["dcgan"][1])


@pytest.mark.parametrize("strategy,replicas,xla", [("default", 0, False), ("default", 0, True),
                                                   ("mirrored", 2, False)])
def test_a_nan_gan_step_leaves_batch_norm_statistics_g_ema_and_optimizer_slots_untouched(
    tiny_config, nan_dcgan, strategy, replicas, xla):
  hparams = dict(TINY_HPARAMS["dcgan"], ema_decay=0.9)
  before = tiny_config(nan_dcgan, "before", train_steps=2, hparams=hparams, strategy=strategy,
                       cpu_replicas=replicas, xla=xla)
  poisoned = tiny_config(nan_dcgan, "poisoned", train_steps=3, strategy=strategy,
                         cpu_replicas=replicas, xla=xla, hparams=dict(hparams, nan_steps=[3]))
  loop.run(before)
  assert loop.run(poisoned).nonfinite_steps == [3]
  # Batch-norm statistics, G_ema, both optimizers' slots and counts (the first replica's
  # copies; step_context_test checks every replica's).
  assert_same_checkpoint_values(checkpoint_values(before.model_dir),
                                checkpoint_values(poisoned.model_dir))


@pytest.mark.parametrize("strategy,replicas", [("default", 0), ("mirrored", 2)])
def test_updates_that_would_write_infinities_are_skipped_whole_and_nothing_non_finite_is_saved(
    tiny_config, strategy, replicas, capsys):
  # Learning rates of 1e8 blow D and G up within a step or two: the batch-norm moving
  # variances overflow even where the losses stay finite.
  config = tiny_config("dcgan", train_steps=6, strategy=strategy, cpu_replicas=replicas,
                       hparams={"g_learning_rate": 1e8, "d_learning_rate": 1e8})
  result = loop.run(config)
  assert len(result.nonfinite_steps) >= 3
  values = checkpoint_values(config.model_dir)
  assert [key for key, value in values.items()
          if value.dtype.kind == "f" and not np.isfinite(value).all()] == []
  exported = tf.train.load_checkpoint(os.path.join(result.export_path, "variables",
                                                   "variables"))
  exported_values = [exported.get_tensor(key) for key in exported.get_variable_to_shape_map()]
  assert len(exported_values) > 20
  assert all(np.isfinite(value).all() for value in exported_values
             if getattr(value, "dtype", np.dtype(object)).kind == "f")
  assert (f"Warning: {len(result.nonfinite_steps)} of this run's 6 steps were skipped for "
          f"non-finite values (the first at step {result.nonfinite_steps[0]})"
          in capsys.readouterr().err)


def test_a_run_that_ends_with_non_finite_variables_stops_with_a_sentence_and_exports_nothing(
    tiny_config, nan_autoencoder, monkeypatch):
  # As if the guard had let a NaN through (or a run resumed from a checkpoint holding one).
  monkeypatch.setattr(step_context.StepTransaction, "end",
                      lambda self, saved, losses: tf.constant(True))
  config = tiny_config(nan_autoencoder, train_steps=2, hparams={"nan_steps": [2]})
  with pytest.raises(loop.NonFiniteError,
                     match=r"^Step 2: NaN or infinity in .*(encoder|decoder)/.*; the run is not "
                           r"exported\.$"):
    loop.run(config)
  assert not os.path.exists(os.path.join(config.model_dir, "export"))


def test_restore_mode_reloads_the_checkpoint_and_stops_when_the_nan_recurs(
    tiny_config, nan_autoencoder):
  config = tiny_config(nan_autoencoder, train_steps=4, checkpoint_every=2,
                       on_nonfinite="restore", hparams={"nan_steps": [3]})
  with pytest.raises(loop.NonFiniteError, match="Step 3 gave non-finite values again"):
    loop.run(config)
  assert tf.train.latest_checkpoint(os.path.join(config.model_dir, "checkpoints")).endswith("-2")


def test_metrics_at_checkpoints_are_logged_and_match_evaluate(tiny_config):
  from keras_gen.metrics import evaluation
  config = tiny_config("autoencoder", train_steps=2, checkpoint_every=2, metrics=["reconstruction"],
                       metric_samples=16)
  loop.run(config, snapshot=evaluation.SnapshotMetrics())
  tags = event_tags(config.model_dir)
  assert tags["metrics/reconstruction/mse"] == [2]
  with open(os.path.join(config.model_dir, "eval", "step0000002.json")) as f:
    logged = __import__("json").load(f)["metrics"]["reconstruction"]["mse"]
  again = evaluation.evaluate(model_dir=config.model_dir, metric_names=["reconstruction"],
                              num_samples=16, output=os.path.join(config.model_dir, "again.json"))
  assert again["metrics"]["reconstruction"]["mse"] == pytest.approx(logged, rel=1e-6)


def test_an_unknown_snapshot_metric_is_refused_before_training(tiny_config):
  from keras_gen.metrics import evaluation
  config = tiny_config("autoencoder", metrics=["fidd"])
  with pytest.raises(config_lib.ConfigError, match="--metrics: Unknown metric 'fidd'"):
    loop.run(config, snapshot=evaluation.SnapshotMetrics())
  assert not os.path.exists(config.model_dir)


def test_metrics_without_a_snapshot_evaluator_are_refused_before_training(tiny_config):
  config = tiny_config("autoencoder", metrics=["reconstruction"])
  with pytest.raises(config_lib.ConfigError, match="--metrics needs a snapshot evaluator"):
    loop.run(config)
  assert not os.path.exists(config.model_dir)


def test_a_step_that_runs_out_of_memory_is_one_sentence_naming_the_tensor_and_the_fix():
  def out_of_memory(iterator):
    raise tf.errors.ResourceExhaustedError(
        None, None, "{{function_node __wrapped__Conv2D}} OOM when allocating tensor with "
        "shape[100000,64,32,32] and type float on /job:localhost/replica:0/task:0/device:CPU:0 "
        "by allocator cpu [Op:Conv2D]")

  with pytest.raises(config_lib.ConfigError) as error:
    loop._checked_step(out_of_memory, iter(()), plan=None, step=7)  # pylint: disable=protected-access

  assert str(error.value) == (
      "Step 7 ran out of memory (OOM when allocating tensor with shape[100000,64,32,32]); the "
      "checkpoints written so far are kept: run the same command with a smaller --batch_size "
      "and --allow_changes to resume from the last one.")

"""`keras_gen.evaluate`: the same figures from a checkpoint and from its export."""

import json
import os
import subprocess
import sys

import pytest

from keras_gen import cli
from keras_gen import config as config_lib
from keras_gen import export
from keras_gen.engine import loop
from keras_gen.metrics import evaluation
from keras_gen.metrics import inception

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_checkpoint_and_export_give_the_same_reconstruction_error(tiny_config, tiny_npz):
  config = tiny_config("autoencoder", train_steps=3)
  export_path = loop.run(config).export_path
  kwargs = dict(metric_names=["reconstruction"], dataset=f"npz:{tiny_npz}", split="train",
                num_samples=32)
  from_checkpoint = evaluation.evaluate(model_dir=config.model_dir, **kwargs)
  from_export = evaluation.evaluate(saved_model=export_path, **kwargs)
  assert from_checkpoint["metrics"]["reconstruction"]["mse"] == pytest.approx(
      from_export["metrics"]["reconstruction"]["mse"], rel=1e-6)
  with open(from_checkpoint["output"]) as f:
    assert json.load(f)["metrics"]["reconstruction"]["num_images"] == 32


def test_step_evaluates_that_checkpoint_as_its_export_does(tiny_config, tiny_npz):
  config = tiny_config("autoencoder", train_steps=3, checkpoint_every=1, keep_checkpoints=5)
  loop.run(config)
  kwargs = dict(metric_names=["reconstruction"], dataset=f"npz:{tiny_npz}", split="train",
                num_samples=32)
  at_step_1 = evaluation.evaluate(model_dir=config.model_dir, step=1, **kwargs)
  newest = evaluation.evaluate(model_dir=config.model_dir, **kwargs)
  [export_path] = export.export(config.model_dir, export_dir=os.path.join(config.model_dir, "e1"),
                                step=1)
  from_export = evaluation.evaluate(saved_model=export_path, **kwargs)
  assert (at_step_1["step"], newest["step"], from_export["step"]) == (1, 3, 1)
  assert at_step_1["output"] == os.path.join(config.model_dir, "eval", "step0000001.json")
  mse = at_step_1["metrics"]["reconstruction"]["mse"]
  assert mse == pytest.approx(from_export["metrics"]["reconstruction"]["mse"], rel=1e-6)
  assert mse != pytest.approx(newest["metrics"]["reconstruction"]["mse"], rel=1e-6)


def test_a_step_without_a_checkpoint_is_refused_naming_the_steps_held(tiny_config):
  config = tiny_config("autoencoder", train_steps=2, checkpoint_every=1, keep_checkpoints=5)
  loop.run(config)
  with pytest.raises(config_lib.ConfigError,
                     match="holds no checkpoint at step 7; the steps it holds: 1, 2."):
    evaluation.evaluate(model_dir=config.model_dir, metric_names=["reconstruction"], step=7)
  with pytest.raises(config_lib.ConfigError, match="Give --checkpoint or --step, not both."):
    export.export(config.model_dir, checkpoint="anything", step=1)


def test_evaluate_cli_with_step_and_an_export_exits_2(tmp_path):
  result = subprocess.run([sys.executable, "-m", "keras_gen.evaluate",
                           f"--saved_model={tmp_path}", "--step=5", "--metrics=reconstruction"],
                          capture_output=True, text=True, cwd=REPO)
  assert result.returncode == 2
  assert "--step picks a checkpoint of --model_dir" in result.stderr


def test_a_metric_for_another_kind_of_model_is_refused(tiny_config):
  config = tiny_config("dcgan", train_steps=1)
  loop.run(config)
  with pytest.raises(config_lib.ConfigError, match="applies to autoencoder models"):
    evaluation.evaluate(model_dir=config.model_dir, metric_names=["reconstruction"])


def test_evaluate_cli_with_a_missing_export_exits_2(tmp_path):
  result = subprocess.run([sys.executable, "-m", "keras_gen.evaluate",
                           f"--saved_model={tmp_path}/nothing", "--metrics=reconstruction"],
                          capture_output=True, text=True, cwd=REPO)
  assert result.returncode == 2
  assert "is not a folder" in result.stderr


def test_an_unknown_metric_option_is_refused_naming_the_valid_ones(tiny_config, tiny_npz):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  with pytest.raises(config_lib.ConfigError, match="Unknown --metric_options iwae_sample; valid:"):
    evaluation.evaluate(model_dir=config.model_dir, metric_names=["reconstruction"],
                        dataset=f"npz:{tiny_npz}", split="train", extra={"iwae_sample": "5"})


def test_one_option_string_serves_several_metrics(tiny_config, tiny_npz):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  results = evaluation.evaluate(model_dir=config.model_dir,
                                metric_names=["reconstruction", "sparsity"],
                                dataset=f"npz:{tiny_npz}", split="train", num_samples=16,
                                extra={"active_threshold": "0.5", "iwae_samples": "5"})
  assert set(results["metrics"]) == {"reconstruction", "sparsity"}



def _trace_fresh_functions(python_function, count=8):
  """Wraps python_function in a new tf.function `count` times, tracing each once. TensorFlow
  warns at most twice per python function, so each check needs its own."""
  import tensorflow as tf
  for value in range(count):
    tf.function(python_function, input_signature=[tf.TensorSpec([], tf.int32)])(
        tf.constant(value))


def test_snapshots_do_not_warn_that_their_fresh_functions_retrace(caplog):
  import tensorflow as tf
  with evaluation.fresh_functions_expected():
    _trace_fresh_functions(lambda x: x + 1)
    tf.get_logger().warning("another warning")
  assert [record.getMessage() for record in caplog.records] == ["another warning"]

  _trace_fresh_functions(lambda x: x + 2)  # Outside the block TensorFlow's warning is back.
  assert any("triggered tf.function retracing" in record.getMessage()
             for record in caplog.records)


def test_missing_inception_weights_are_reported_once_for_fid_kid_and_is(tiny_config,
                                                                       monkeypatch, capsys):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  cache = os.path.join(config.model_dir, "no_keras_cache", inception.WEIGHTS_FILE)
  monkeypatch.setattr(inception, "keras_cache_candidates", lambda: [cache])
  capsys.readouterr()
  with pytest.raises(SystemExit) as exit_:
    cli.exit_on_user_error(lambda: evaluation.evaluate(
        model_dir=config.model_dir, metric_names=["fid", "kid", "is", "reconstruction"],
        num_samples=16))
  error = capsys.readouterr().err
  output = os.path.join(config.model_dir, "eval", "step0000001.json")
  assert exit_.value.code == 2 and "Traceback" not in error
  assert error == (
      f"Error: fid, kid, is: Inception-v3 weights are not in the Keras cache ({cache}); download "
      f"{inception.WEIGHTS_URL} there (or run `python -c \"import keras; "
      f"keras.applications.InceptionV3()\"` once with network access), or pass "
      f"--metric_options=inception_weights=PATH. The other metrics' results are in {output}.\n")
  with open(output) as f:
    assert sorted(json.load(f)["metrics"]) == ["fid", "is", "kid", "reconstruction"]


@pytest.mark.parametrize("metric,expected", [
    ("fid", "Inception-v3 weights are not in the Keras cache"),
    ("fcd", "No domain classifier for 'npz:"),
])
def test_training_with_a_metric_whose_features_are_missing_is_refused_before_it_starts(
    tiny_config, monkeypatch, tmp_path, metric, expected):
  monkeypatch.setattr(inception, "keras_cache_candidates",
                      lambda: [str(tmp_path / "no_keras_cache" / inception.WEIGHTS_FILE)])
  monkeypatch.setenv("KERAS_GEN_HOME", str(tmp_path / "home"))  # No classifier trained here.
  config = tiny_config("dcgan", metrics=[metric])

  with pytest.raises(config_lib.ConfigError, match=expected):
    loop.run(config, snapshot=evaluation.SnapshotMetrics())

  assert not os.path.exists(config.model_dir)

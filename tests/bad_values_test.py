"""Values a hostile user typed or wrote into a file (issue 33): each is refused in one
sentence with exit code 2, no traceback, and nothing written or changed."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen.engine import checkpoints
from keras_gen.engine import loop
from keras_gen.engine import memory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def _run(module, *flags):
  return subprocess.run([sys.executable, "-m", f"keras_gen.{module}", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=600)


def _assert_refused(result, sentence):
  """Exit code 2 and `sentence` (a str, or a compiled pattern) as stderr's one error line."""
  assert "Traceback" not in result.stderr, result.stderr[-3000:]
  assert result.returncode == 2, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  if isinstance(sentence, str):
    assert last == f"Error: {sentence}"
  else:
    assert sentence.fullmatch(last), last


def _digest(folder):
  digest = hashlib.sha256()
  for root, _, files in sorted(os.walk(folder)):
    for name in sorted(files):
      with open(os.path.join(root, name), "rb") as f:
        digest.update(os.path.join(root, name).encode() + f.read())
  return digest.hexdigest()


def _tiny_run(tiny_npz, model_dir, model="autoencoder", **values):
  """Trains a tiny run of `model` for 2 steps (a checkpoint at 2) in this process."""
  settings = dict(model=model, dataset=f"npz:{tiny_npz}", model_dir=str(model_dir),
                  train_steps=2, batch_size=8, checkpoint_every=1000, summary_every=1000,
                  log_every=1000, hparams=dict(TINY_HPARAMS[model]))
  settings.update(values)
  loop.run(config_lib.TrainConfig(**settings))
  return model_dir


@pytest.fixture(scope="module")
def autoencoder_run(tiny_npz, tmp_path_factory):
  return _tiny_run(tiny_npz, tmp_path_factory.mktemp("runs") / "autoencoder")


@pytest.fixture(scope="module")
def dcgan_run(tiny_npz, tmp_path_factory):
  return _tiny_run(tiny_npz, tmp_path_factory.mktemp("runs") / "dcgan", model="dcgan")


# --- 1-3, 7: flags refused at parse time. -------------------------------------------------------

@pytest.mark.parametrize("flag,sentence", [
    ("--hparams=g_learning_rate=nan", "Hyperparameter g_learning_rate=nan is not a finite number."),
    ("--hparams=g_learning_rate=inf", "Hyperparameter g_learning_rate=inf is not a finite number."),
    ("--hparams=d_learning_rate=-1",
     "Hyperparameter d_learning_rate=-1.0 is a learning rate: it must be above 0."),
    ("--hparams=latent_dim=5,latent_dim=6",
     "--hparams sets latent_dim twice (latent_dim=5 and latent_dim=6); give each name once."),
    ("--metric_options=garbage", "--metric_options item 'garbage' is not of the form name=value."),
    ("--batch_size=2147483648", "--batch_size=2147483648 is beyond int32 (at most 2147483647)."),
])
def test_a_bad_train_flag_value_is_one_sentence_and_nothing_is_written(
    tiny_npz, tmp_path, flag, sentence):
  model_dir = tmp_path / "run"
  result = _run("train", "--model=dcgan", f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}",
                "--train_steps=2", "--batch_size=8", flag)
  _assert_refused(result, sentence)
  assert not model_dir.exists()


def test_evaluates_bad_metric_options_are_blamed_on_metric_options(tmp_path):
  result = _run("evaluate", f"--model_dir={tmp_path}", "--metrics=reconstruction",
                "--metric_options=garbage", f"--output={tmp_path / 'eval.json'}")
  _assert_refused(result, "--metric_options item 'garbage' is not of the form name=value.")
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("model,hparams,sentence", [
    ("dcgan", {"ema_decay": "nan"}, "Hyperparameter ema_decay=nan is not a finite number."),
    ("dcgan", {"g_filters": "3000000000"},
     "Hyperparameter g_filters=3000000000 is beyond int32 (at most 2147483647)."),
    ("dcgan", {"latent_dim": "0"}, "Model 'dcgan': latent_dim must be at least 1, got 0."),
    ("dcgan", {"beta_1": "1.5"}, "Model 'dcgan': beta_1 must be in [0, 1), got 1.5."),
    ("wgan_gp", {"beta_2": "1"}, "Model 'wgan_gp': beta_2 must be in [0, 1), got 1.0."),
    ("progan", {"beta_2": "-0.1"}, "Model 'progan': beta_2 must be in [0, 1), got -0.1."),
    ("progan", {"learning_rate_overrides": {"8": float("inf")}},
     "Hyperparameter learning_rate_overrides={'8': inf} is not a finite number."),
    ("autoencoder", {"filters": "0"}, "Model 'autoencoder': filters must be positive, got 0."),
    ("vae", {"hidden_units": "-3"}, "Model 'vae': hidden_units must be positive, got -3."),
    ("sparse_autoencoder", {"code_size": "0"},
     "Model 'sparse_autoencoder': code_size must be positive, got 0."),
    ("contractive_autoencoder", {"hidden_units": "0"},
     "Model 'contractive_autoencoder': hidden_units must be positive, got 0."),
    ("stochastic_autoencoder", {"filters": "0"},
     "Model 'stochastic_autoencoder': filters must be positive, got 0."),
    ("vae", {"learning_rate": "0"},
     "Hyperparameter learning_rate=0.0 is a learning rate: it must be above 0."),
])
def test_a_hyperparameter_outside_its_range_is_refused_before_anything_is_built(
    model, hparams, sentence):
  config = config_lib.TrainConfig(model=model, model_dir="/nonexistent/run", hparams=hparams)
  with pytest.raises(config_lib.ConfigError) as raised:
    loop.resolve(config)
  assert str(raised.value) == sentence


def test_a_string_learning_rate_override_that_is_infinite_is_refused_by_progan():
  family, _ = registry.get_family("progan")
  hparams = dict(family.DEFAULT_HPARAMS, learning_rate_overrides={"8": "inf"})
  with pytest.raises(ValueError, match=r"^learning_rate_overrides holds inf; learning rates must "
                                       r"be positive and finite\.$"):
    family.validate_hparams(hparams)


# --- 4: files holding the wrong thing. -----------------------------------------------------------

def test_a_recipe_holding_a_json_list_is_named(tmp_path):
  recipe = tmp_path / "list.json"
  recipe.write_text("[1, 2]")
  result = _run("train", f"--recipe={recipe}", f"--model_dir={tmp_path / 'run'}")
  _assert_refused(result, f"Recipe {recipe} holds a JSON list, not an object with a 'config' "
                          f"object.")
  assert not (tmp_path / "run").exists()


def _edited_copy(run, destination, **fields):
  shutil.copytree(run, destination)
  path = destination / "config.json"
  run_config = json.loads(path.read_text())
  run_config.update(fields)
  path.write_text(json.dumps(run_config))
  return destination, path


def _damaged(path, problem):
  return (f"{path} is damaged ({problem}), not the configuration object a run writes; delete it "
          f"and rerun the training command that made this folder, or use a new --model_dir.")


def test_a_config_json_field_of_the_wrong_type_is_named_by_train_and_export(
    autoencoder_run, tiny_npz, tmp_path):
  model_dir, path = _edited_copy(autoencoder_run, tmp_path / "run", hparams=5)
  before = _digest(model_dir)
  train = _run("train", "--model=autoencoder", f"--dataset=npz:{tiny_npz}",
               f"--model_dir={model_dir}", "--train_steps=3", "--batch_size=8")
  _assert_refused(train, _damaged(path, "hparams is 5, not an object"))
  export = _run("export", f"--model_dir={model_dir}")
  _assert_refused(export, _damaged(path, "hparams is 5, not an object"))
  assert _digest(model_dir) == before


def test_a_config_json_whose_model_was_changed_is_named_by_export(autoencoder_run, tmp_path):
  model_dir, path = _edited_copy(autoencoder_run, tmp_path / "run", model="dcgan")
  before = _digest(model_dir)
  result = _run("export", f"--model_dir={model_dir}")
  _assert_refused(result, _damaged(
      path, "hparams code_size, filters, hidden_units, learning_rate, reconstruction_loss are not "
            "hyperparameters of model 'dcgan'"))
  assert _digest(model_dir) == before


def test_run_config_problem_names_a_wrongly_typed_field_and_accepts_a_run_as_written(
    autoencoder_run):
  written = checkpoints.read_run_config(autoencoder_run)
  assert registry.run_config_problem(written) is None
  assert registry.run_config_problem(dict(written, batch_size="8")) == (
      "batch_size is '8', not an integer")
  assert registry.run_config_problem(dict(written, metrics=["fcd", 3])) == (
      "metrics is ['fcd', 3], not a list of strings")
  assert registry.run_config_problem(dict(written, model="nope")) == (
      "model is 'nope', not a known model")


# --- 5: latents that are not numbers. ------------------------------------------------------------

def test_generate_refuses_nonfinite_latents_naming_the_file_and_writes_nothing(dcgan_run, tmp_path):
  z = np.random.default_rng(0).standard_normal([4, TINY_HPARAMS["dcgan"]["latent_dim"]])
  z[2, 3] = np.nan
  z[3, 0] = np.inf
  path = tmp_path / "nan.npy"
  np.save(path, z.astype(np.float32))
  output_dir = tmp_path / "pictures"
  result = _run("generate", "--mode=interpolate", f"--model_dir={dcgan_run}", f"--latents={path}",
                f"--output_dir={output_dir}")
  _assert_refused(result, f"--latents={path} holds NaN or infinity in 2 of its 4 rows (the first "
                          f"is row 2); latents must be finite numbers.")
  assert not output_dir.exists()


# --- 6: resuming with other values. --------------------------------------------------------------

def test_resuming_with_another_seed_batch_size_or_hparams_is_refused_listing_the_differences(
    autoencoder_run, tiny_npz, tmp_path):
  model_dir = tmp_path / "run"
  shutil.copytree(autoencoder_run, model_dir)
  before = _digest(model_dir)
  result = _run("train", "--model=autoencoder", f"--dataset=npz:{tiny_npz}",
                f"--model_dir={model_dir}", "--train_steps=3", "--batch_size=4", "--seed=1",
                "--hparams=filters=4,code_size=6,hidden_units=16")
  _assert_refused(result, (
      f"--model_dir={model_dir} was trained with seed=0, batch_size=8, code_size=8; this command "
      f"asks seed=1, batch_size=4, code_size=6. Rerun with the same values, use a new "
      f"--model_dir, or pass --allow_changes to resume with the new ones."))
  assert _digest(model_dir) == before


def test_allow_changes_resumes_with_the_new_values_and_says_which(
    autoencoder_run, tiny_npz, tmp_path):
  model_dir = tmp_path / "run"
  shutil.copytree(autoencoder_run, model_dir)
  result = _run("train", "--model=autoencoder", f"--dataset=npz:{tiny_npz}",
                f"--model_dir={model_dir}", "--train_steps=3", "--batch_size=4", "--seed=1",
                "--hparams=filters=4,code_size=8,hidden_units=16", "--allow_changes")
  assert result.returncode == 0, result.stderr[-3000:]
  assert (f"Resuming --model_dir={model_dir} with changes (--allow_changes): seed=0 -> 1, "
          f"batch_size=8 -> 4.\n") in result.stdout
  assert "Resumed from" in result.stdout
  written = json.loads((model_dir / "config.json").read_text())
  assert (written["seed"], written["batch_size"], written["allow_changes"]) == (1, 4, True)
  assert checkpoints.read_latest_step(model_dir) == 3


def _resumable(tmp_path, **values):
  """A model_dir whose config.json is TrainConfig(**values) and which holds checkpoint 2."""
  config = config_lib.TrainConfig(model="autoencoder", model_dir=str(tmp_path / "run"),
                                  hparams={"code_size": 8}, **values)
  os.makedirs(os.path.join(config.model_dir, "checkpoints"))
  open(os.path.join(config.model_dir, "checkpoints", "ckpt-2.index"), "w").close()
  checkpoints.write_run_config(config)
  return config


def test_steps_intervals_metrics_strategy_and_paths_may_change_on_resume(tmp_path):
  config = _resumable(tmp_path)
  for field, value in (("train_steps", 9), ("log_every", 1), ("summary_every", 2),
                       ("checkpoint_every", 3), ("keep_checkpoints", 9), ("metrics", ["fcd"]),
                       ("metric_samples", 10), ("metric_options", {"iwae_samples": "5"}),
                       ("strategy", "mirrored"), ("cpu_replicas", 2), ("deterministic", True),
                       ("on_nonfinite", "restore"), ("data_dir", "/elsewhere"),
                       ("export_dir", "/exports")):
    checkpoints.check_model_dir(config_lib.TrainConfig(**dict(vars(config), **{field: value})))


@pytest.mark.parametrize("field,value,before,after", [
    ("seed", 3, "seed=0", "seed=3"),
    ("batch_size", 32, "batch_size=64", "batch_size=32"),
    ("mixed_precision", "mixed_bfloat16", "mixed_precision='none'",
     "mixed_precision='mixed_bfloat16'"),
    ("xla", True, "xla=False", "xla=True"),
    ("hparams", {"code_size": 9}, "code_size=8", "code_size=9"),
])
def test_seed_batch_size_precision_xla_and_hparams_may_not(tmp_path, field, value, before, after):
  config = _resumable(tmp_path)
  changed = config_lib.TrainConfig(**dict(vars(config), **{field: value}))
  with pytest.raises(config_lib.ConfigError) as raised:
    checkpoints.check_model_dir(changed)
  assert str(raised.value) == (
      f"--model_dir={config.model_dir} was trained with {before}; this command asks {after}. "
      f"Rerun with the same values, use a new --model_dir, or pass --allow_changes to resume "
      f"with the new ones.")


def test_a_folder_without_a_checkpoint_starts_afresh_with_any_values(tmp_path):
  config = _resumable(tmp_path)
  os.remove(os.path.join(config.model_dir, "checkpoints", "ckpt-2.index"))
  checkpoints.check_model_dir(config_lib.TrainConfig(**dict(vars(config), seed=5)))


# --- 7: more memory than the machine has. --------------------------------------------------------

def _expected_refusal(model, batch_size, element_shape, **hparams):
  """The refusal's sentence for these values, the available memory left as a pattern."""
  config = config_lib.TrainConfig(model=model, batch_size=batch_size, model_dir="/unused",
                                  hparams=hparams)
  config = loop.resolve(config)
  family, _ = registry.get_family(model)
  estimate = memory.estimate_step(config, family, element_shape)
  placeholder = 12345 * 2 ** 40
  sentence = memory.refusal(config, estimate, placeholder)
  return re.compile("Error: " + re.escape(sentence).replace(
      re.escape(memory.format_bytes(placeholder)), r"[\d.]+ (MB|GB)"))


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST), reason="dataset-fashion-mnist not installed")
def test_a_batch_of_100000_dcgan_is_refused_with_the_estimate_and_the_available_memory(tmp_path):
  model_dir = tmp_path / "run"
  result = _run("train", "--model=dcgan", "--dataset=fashion_mnist",
                f"--data_dir={FASHION_MNIST}", f"--model_dir={model_dir}", "--batch_size=100000")
  _assert_refused(result, _expected_refusal("dcgan", 100000, (28, 28, 1)))
  assert re.search(r"^Error: --batch_size=100000 needs about 79 GB for one dcgan step \(weights "
                   r"24 MB, activations 79 GB, runtime 160 MB\), more than the [\d.]+ (MB|GB) "
                   r"this machine has "
                   r"available; lower --batch_size\.$", result.stderr, re.MULTILINE)
  assert not model_dir.exists()


def test_a_latent_dim_of_100_million_is_refused_naming_the_networks_size(tiny_npz, tmp_path):
  model_dir = tmp_path / "run"
  result = _run("train", "--model=dcgan", f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}",
                "--hparams=latent_dim=100000000")
  _assert_refused(result, _expected_refusal("dcgan", 64, (16, 16, 1), latent_dim=100000000))
  assert "(G has 204,800,132,865 parameters) need about 5.2 TB for one dcgan step" in result.stderr
  assert not model_dir.exists()

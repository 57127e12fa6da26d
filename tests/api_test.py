"""keras_gen.load and keras_gen.fit: the Python API, one implementation with the CLI."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import keras_gen
from keras_gen import config as config_lib
from keras_gen.engine import checkpoints
from keras_gen.engine import restore

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=REPO)
TINY_VAE = {"latent_dim": 4, "hidden_units": 16}


def _recipe(tmp_path, tiny_npz, model="vae", hparams=None):
  path = tmp_path / f"{model}_recipe.json"
  path.write_text(json.dumps({"command": "c", "config": {
      "model": model, "dataset": f"npz:{tiny_npz}", "train_steps": 4, "batch_size": 8,
      "log_every": 2, "hparams": hparams or TINY_VAE}}))
  return str(path)


@pytest.fixture(scope="module")
def vae_run(tiny_npz, tmp_path_factory):
  """The folder of a tiny VAE trained 2 steps with keras_gen.fit, and its recipe."""
  root = tmp_path_factory.mktemp("api")
  recipe = _recipe(root, tiny_npz)
  run_dir = keras_gen.fit(recipe, model_dir=str(root / "vae"), train_steps=2)
  return run_dir, recipe


def test_importing_keras_gen_and_its_api_imports_no_tensorflow():
  result = subprocess.run(
      [sys.executable, "-c", "import sys, keras_gen\nkeras_gen.load, keras_gen.fit, "
       "keras_gen.Model\nprint(sorted(m for m in sys.modules if m.split('.')[0] in "
       "('tensorflow', 'keras')))"], cwd=REPO, env=ENV, capture_output=True, text=True,
      timeout=120)
  assert result.returncode == 0, result.stderr
  assert result.stdout == "[]\n"


def test_fit_and_the_train_command_make_the_same_run(vae_run, tmp_path):
  run_dir, recipe = vae_run
  cli_dir = tmp_path / "cli"
  result = subprocess.run([sys.executable, "-m", "keras_gen.train", f"--recipe={recipe}",
                           f"--model_dir={cli_dir}", "--train_steps=2"], cwd=REPO, env=ENV,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-2000:]

  from_fit = json.loads(open(os.path.join(run_dir, "config.json")).read())
  from_cli = json.loads((cli_dir / "config.json").read_text())
  assert {**from_fit, "model_dir": ""} == {**from_cli, "model_dir": ""}
  digests = [checkpoints.weights_digest(restore.load_run(path).networks)
             for path in (run_dir, str(cli_dir))]
  assert digests[0] == digests[1]
  assert f"weights digest {digests[1]}." in result.stdout


def test_fit_records_each_invocation_in_run_info(tiny_npz, tmp_path):
  recipe = _recipe(tmp_path, tiny_npz)
  model_dir = str(tmp_path / "run")
  assert keras_gen.fit(recipe, model_dir=model_dir, train_steps=1) == model_dir
  keras_gen.fit(recipe, model_dir=model_dir, train_steps=3)  # Resumes, as the CLI does.

  runs = json.loads(open(os.path.join(model_dir, "run_info.json")).read())["runs"]

  assert [(run["start_step"], run["end_step"]) for run in runs] == [(0, 1), (1, 3)]
  assert all(run["wall_seconds"] > 0 and run["machine"]["cores"] >= 1 for run in runs)


def test_fit_refuses_an_unknown_setting_before_writing(tiny_npz, tmp_path):
  with pytest.raises(config_lib.ConfigError, match=r"unknown fields: \['train_step'\]"):
    keras_gen.fit(_recipe(tmp_path, tiny_npz), model_dir=str(tmp_path / "run"), train_step=2)
  assert not (tmp_path / "run").exists()


def test_a_run_and_its_export_give_the_same_uint8_samples_and_codes(vae_run):
  run_dir, _ = vae_run
  from_run = keras_gen.load(run_dir)
  from_export = keras_gen.load(os.path.join(run_dir, "export"))

  images = from_run.sample(6, seed=3)

  assert images.dtype == np.uint8 and images.shape == (6, 16, 16, 1)
  np.testing.assert_array_equal(images, from_export.sample(6, seed=3))
  assert from_run.kind == "autoencoder" and from_run.latent_dim == 4 and from_run.step == 2
  np.testing.assert_allclose(from_run.encode(images), from_export.encode(images), atol=1e-5)


def test_floats_in_and_out_are_the_uint8_images_on_the_networks_scale(vae_run):
  model = keras_gen.load(vae_run[0])
  images = model.sample(4, seed=0)
  floats = images.astype(np.float32) / 127.5 - 1.0

  np.testing.assert_array_equal(model.encode(images), model.encode(floats))
  reconstructed = model.reconstruct(images, dtype="float32")
  assert reconstructed.dtype == np.float32
  np.testing.assert_array_equal(
      np.clip(np.round((reconstructed + 1.0) * 127.5), 0, 255).astype(np.uint8),
      model.reconstruct(images))
  z = np.random.default_rng(0).standard_normal([4, 4])
  np.testing.assert_array_equal(model.generate(z), model.decode(z))


def test_sample_draws_the_latents_of_the_generate_commands_grid(vae_run):
  from keras_gen.generation import latents
  model = keras_gen.load(vae_run[0])
  np.testing.assert_array_equal(model.sample(5, seed=7),
                                model.generate(latents.gaussian(5, 4, seed=7)))


@pytest.mark.parametrize("call,message", [
    (lambda model: model.encode(np.zeros([2, 8, 8, 1], np.uint8)),
     r"The images have shape \(2, 8, 8, 1\); vae takes \[N, 16, 16, 1\]\."),
    (lambda model: model.generate(np.zeros([2, 3])), r"z has shape \(2, 3\); vae takes \[N, 4\]"),
    (lambda model: model.sample(2, dtype="uint16"), "dtype='uint16' is not one of uint8, float32"),
    (lambda model: model.encode(np.zeros([1, 16, 16, 1], np.int32)), "The images are int32"),
])
def test_a_wrong_call_is_one_sentence(vae_run, call, message):
  with pytest.raises(config_lib.ConfigError, match=message):
    call(keras_gen.load(vae_run[0]))


def test_an_autoencoder_without_a_prior_has_no_sample(tiny_npz, tmp_path):
  recipe = _recipe(tmp_path, tiny_npz, "autoencoder", {"filters": 4, "code_size": 8})
  model = keras_gen.load(keras_gen.fit(recipe, model_dir=str(tmp_path / "ae"), train_steps=1))
  with pytest.raises(config_lib.ConfigError, match="generate\\(\\) is not available: "
                     "'autoencoder' is an autoencoder without a prior"):
    model.sample(2)
  assert model.reconstruct(np.zeros([2, 16, 16, 1], np.uint8)).shape == (2, 16, 16, 1)


def test_an_unknown_source_names_the_pretrained_models():
  with pytest.raises(config_lib.ConfigError, match="'no_such_model' is neither a folder"):
    keras_gen.load("no_such_model")


def _readme_python_example():
  with open(os.path.join(REPO, "README.md")) as f:
    readme = f.read()
  (block,) = re.findall(r"^```python\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL)
  return block


def test_the_readme_python_example_runs_as_written(tmp_path):
  if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
    pytest.skip("Needs Debian's dataset-fashion-mnist.")
  script = tmp_path / "example.py"
  script.write_text(_readme_python_example())
  env = {name: value for name, value in ENV.items() if name != "TF_CPP_MIN_LOG_LEVEL"}

  result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)

  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stderr == ""
  assert result.stdout.splitlines()[-1] == ("uint8 (16, 28, 28, 1) (16, 16) (16, 28, 28, 1) "
                                            "True")
  assert "Model('vae', kind='autoencoder', step=300" in result.stdout

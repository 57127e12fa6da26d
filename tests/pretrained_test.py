"""The pretrained zoo (keras_gen.pretrained) and the tool that adds to it, end to end."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY_HPARAMS
import keras_gen
from keras_gen import config as config_lib
from keras_gen.data import tfrecords
from keras_gen.engine import checkpoints
from keras_gen.engine import loop
from keras_gen import pretrained
from keras_gen import storage
from keras_gen.engine import restore
from keras_gen.generation import latents
from keras_gen.metrics import evaluation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUIET_ENV = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
QUIET_ENV["PYTHONPATH"] = REPO


def _run(*arguments):
  return subprocess.run([sys.executable, *arguments], cwd=REPO, env=QUIET_ENV,
                        capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def added(tiny_npz, tmp_path_factory):
  """(model_dir, pretrained folder, the tool's result) of a tiny DCGAN trained 2 steps with
  --metrics=swd and added by `tools/pretrained.py add`."""
  root = tmp_path_factory.mktemp("pretrained")
  model_dir = keras_gen.fit(
      None, model_dir=str(root / "run"), model="dcgan", dataset=f"npz:{tiny_npz}", train_steps=2,
      batch_size=8, hparams=TINY_HPARAMS["dcgan"], metrics=["swd"], metric_samples=32)
  result = _run("tools/pretrained.py", "add", f"--model_dir={model_dir}", "--name=tiny_dcgan",
                f"--root={root / 'zoo'}")
  assert result.returncode == 0, result.stderr[-3000:]
  return model_dir, str(root / "zoo" / "tiny_dcgan"), result


def _manifest(folder):
  with open(os.path.join(folder, pretrained.MANIFEST)) as f:
    return json.load(f)


def test_add_writes_float16_weights_and_a_manifest_of_hashes_recipe_step_and_metrics(added):
  model_dir, folder, result = added
  manifest = _manifest(folder)

  assert result.stderr == ""
  assert sorted(os.listdir(folder)) == ["manifest.json", "weights.npz"]
  weights = os.path.join(folder, "weights.npz")
  assert manifest["files"] == {"weights.npz": {"sha256": storage.sha256_of(weights),
                                               "bytes": os.path.getsize(weights)}}
  assert (manifest["name"], manifest["model"], manifest["step"]) == ("tiny_dcgan", "dcgan", 2)
  assert (manifest["storage_dtype"], manifest["loaded_as"]) == ("float16", "float32")
  assert manifest["evaluation"]["metrics"]["swd"]["swd_x1e3_avg"] > 0
  assert manifest["training_runs"][0]["end_step"] == 2
  assert manifest["config"]["model_dir"] == "" and manifest["config"]["hparams"]["latent_dim"] == 8
  with np.load(weights) as stored:
    assert {array.dtype for array in stored.values()} == {np.dtype(np.float16)}


def test_a_pretrained_model_loads_the_float16_rounding_of_the_trained_weights(added):
  model_dir, folder, _ = added
  trained = restore.load_run(model_dir)
  loaded = pretrained.load_run(folder)

  assert loaded.step == 2 and loaded.config.element_shape == trained.config.element_shape
  for name, network in trained.networks.items():
    for before, after in zip(network.variables, loaded.networks[name].variables):
      np.testing.assert_array_equal(after.numpy(),
                                    before.numpy().astype(np.float16).astype(np.float32))


def test_the_manifest_states_the_output_difference_loading_gives(added):
  model_dir, folder, _ = added
  stated = _manifest(folder)["float16_output_difference"]["generate"]
  z = latents.gaussian(256, 8, seed=0)

  trained, loaded = keras_gen.load(model_dir), keras_gen.load(folder)

  difference = np.abs(loaded.generate(z, dtype="float32") - trained.generate(z, dtype="float32"))
  levels = np.abs(loaded.generate(z).astype(int) - trained.generate(z).astype(int))
  assert float(difference.max()) == pytest.approx(stated["max_abs"], rel=1e-6)
  assert int(levels.max()) == stated["max_uint8_levels"]
  assert float((levels > 0).mean()) == pytest.approx(stated["uint8_values_changed"])


def test_generate_and_evaluate_work_from_a_pretrained_folder(added, tmp_path):
  _, folder, _ = added
  result = _run("-m", "keras_gen.generate", f"--pretrained={folder}", "--mode=grid", "--rows=2",
                "--columns=2", f"--output_dir={tmp_path}")
  assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]
  assert os.path.exists(tmp_path / "dcgan_step0000002_grid2x2_seed0.png")

  results = evaluation.evaluate(pretrained=folder, metric_names=["swd"], num_samples=32,
                                output=str(tmp_path / "eval.json"))
  assert results["source"] == folder and results["step"] == 2
  assert results["metrics"]["swd"]["swd_x1e3_avg"] > 0


def test_a_changed_weights_file_is_refused_in_one_sentence(added, tmp_path):
  _, folder, _ = added
  damaged = tmp_path / "damaged"
  shutil.copytree(folder, damaged)
  weights = damaged / "weights.npz"
  contents = bytearray(weights.read_bytes())
  contents[-30] ^= 0xFF
  weights.write_bytes(bytes(contents))

  with pytest.raises(config_lib.ConfigError, match=r"weights.npz has SHA-256 [0-9a-f]{64}, not "
                     r"the [0-9a-f]{64} its manifest.json records: the file is damaged"):
    pretrained.load_run(str(damaged))
  result = _run("-m", "keras_gen.generate", f"--pretrained={damaged}", "--mode=grid")
  assert result.returncode == 2 and result.stderr.startswith("Error: ") and "SHA-256" in result.stderr


def test_add_refuses_an_existing_name_and_a_run_never_evaluated(added, tiny_npz, tmp_path):
  model_dir, folder, _ = added
  again = _run("tools/pretrained.py", "add", f"--model_dir={model_dir}", "--name=tiny_dcgan",
               f"--root={os.path.dirname(folder)}")
  assert again.returncode == 2 and "exists; pass --replace" in again.stderr

  unevaluated = keras_gen.fit(None, model_dir=str(tmp_path / "run"), model="dcgan",
                              dataset=f"npz:{tiny_npz}", train_steps=1, batch_size=8,
                              hparams=TINY_HPARAMS["dcgan"])
  result = _run("tools/pretrained.py", "add", f"--model_dir={unevaluated}", "--name=other",
                f"--root={tmp_path / 'zoo'}")
  assert result.returncode == 2 and "evaluate the checkpoint first" in result.stderr
  assert not (tmp_path / "zoo" / "other").exists()


def test_a_model_over_the_budget_is_refused_and_nothing_is_written(added, tmp_path):
  model_dir, _, _ = added
  run = restore.load_run(model_dir)
  folder = tmp_path / "zoo" / "big"

  with pytest.raises(config_lib.ConfigError, match=r"over the budget of 1,000; nothing was written"):
    pretrained.write(run, checkpoints.read_run_config(model_dir), str(folder), {},
                     budget_bytes=1000)
  assert os.listdir(tmp_path / "zoo") == []


def test_values_beyond_float16_are_kept_as_float32(added):
  run = restore.load_run(added[0])
  variable = run.networks["G"].variables[0]
  variable.assign(np.full(variable.shape, 1e6, np.float32))

  arrays, kept = pretrained.stored_arrays(run.networks, run.family_state, "float16")

  assert kept == ["G/0000"] and arrays["G/0000"].dtype == np.float32
  assert arrays["G/0001"].dtype == np.float16


def test_a_progressive_gan_keeps_its_phase_and_level(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, size=(16, 8, 8, 1), dtype=np.uint8)
  dataset = str(tmp_path / "levels")
  tfrecords.create_from_arrays(dataset, "levels", images)
  config = config_lib.TrainConfig(
      model="progan", dataset=f"progan:{dataset}", model_dir=str(tmp_path / "run"),
      train_steps=2, batch_size=8, checkpoint_every=1000, summary_every=1000, log_every=1000,
      hparams=dict(TINY_HPARAMS["progan"]))
  loop.run(config)
  run = restore.load_run(config.model_dir)
  folder = str(tmp_path / "zoo" / "progan")

  pretrained.write(run, checkpoints.read_run_config(config.model_dir), folder, {},
                   storage_dtype="float32")
  loaded = pretrained.load_run(folder)

  assert loaded.family_state.values() == run.family_state.values()
  assert loaded.config.element_shape == [4, 4, 1]
  assert checkpoints.weights_digest(loaded.networks, loaded.family_state) == (
      checkpoints.weights_digest(run.networks, run.family_state))
  assert keras_gen.load(folder).sample(3).shape == (3, 4, 4, 1)


def test_the_shipped_pretrained_models_match_their_hashes_and_the_budget():
  for name in pretrained.names():
    pretrained.read_manifest(os.path.join(pretrained.PRETRAINED_DIR, name))
  assert pretrained.folder_bytes() <= pretrained.BUDGET_BYTES

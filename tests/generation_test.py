"""`keras_gen.generate`: grids, interpolations, videos, timelines and reconstructions.

Tiny runs (a DCGAN, an autoencoder, a VAE and a 2-D points GAN, one or two steps
on 16x16 blobs or the ring mixture) are drawn from their checkpoints and their
exports; the pictures are decoded back and checked pixel by pixel.
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
from keras_gen import serving
from keras_gen.engine import loop
from keras_gen.generation import commands
from keras_gen.generation import layout
from keras_gen.generation import models
from keras_gen.generation import options as options_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = 16  # The tiny images are 16x16 grey.
GAP = layout.GAP


def _train(dataset, model_dir, model, hparams, **overrides):
  values = dict(model=model, dataset=dataset, model_dir=str(model_dir), train_steps=1,
                batch_size=8, checkpoint_every=1000, summary_every=1000, log_every=1000,
                hparams=hparams)
  values.update(overrides)
  return str(model_dir), loop.run(config_lib.TrainConfig(**values)).export_path


@pytest.fixture(scope="module")
def dcgan(tiny_npz, tmp_path_factory):
  """(model_dir with checkpoints at steps 1 and 2, export path)."""
  return _train(f"npz:{tiny_npz}", tmp_path_factory.mktemp("gen") / "dcgan", "dcgan",
                dict(TINY_HPARAMS["dcgan"]), train_steps=2, checkpoint_every=1,
                keep_checkpoints=5)


@pytest.fixture(scope="module")
def autoencoder(tiny_npz, tmp_path_factory):
  return _train(f"npz:{tiny_npz}", tmp_path_factory.mktemp("gen") / "ae", "autoencoder",
                dict(TINY_HPARAMS["autoencoder"]))


def _draw(mode, output_dir, **fields):
  return commands.run(options_lib.Options(mode=mode, output_dir=str(output_dir), **fields))


def _png(path):
  return tf.io.decode_png(tf.io.read_file(path)).numpy().astype(np.int32)


def _cell(picture, row, column, row_gap=GAP, x=None):
  top = row * (SIZE + row_gap)
  left = column * (SIZE + GAP) if x is None else x
  return picture[top:top + SIZE, left:left + SIZE]


def _only(paths, suffix):
  matches = [path for path in paths if path.endswith(suffix)]
  assert len(matches) == 1, paths
  return matches[0]


def test_grid_from_a_checkpoint_and_from_its_export_shows_the_same_samples(dcgan, tmp_path):
  model_dir, export_path = dcgan
  from_checkpoint = _draw("grid", tmp_path / "a", model_dir=model_dir, rows=2, columns=3)
  from_export = _draw("grid", tmp_path / "b", saved_model=export_path, rows=2, columns=3)
  checkpoint_png = _only(from_checkpoint.paths, ".png")
  assert os.path.basename(checkpoint_png) == "dcgan_step0000002_grid2x3_seed0.png"
  picture = _png(checkpoint_png)
  assert picture.shape == (2 * SIZE + GAP, 3 * SIZE + 2 * GAP, 1)
  assert np.abs(picture - _png(_only(from_export.paths, ".png"))).max() <= 1
  assert np.load(_only(from_checkpoint.paths, "_latents.npy")).shape == (6, 8)


def test_step_draws_that_checkpoints_samples_as_the_python_api_does(dcgan, tmp_path):
  import keras_gen
  model_dir = dcgan[0]
  grid = _draw("grid", tmp_path, model_dir=model_dir, step=1, rows=2, columns=3)
  path = _only(grid.paths, ".png")
  assert os.path.basename(path) == "dcgan_step0000001_grid2x3_seed0.png"
  picture = _png(path)
  cells = np.stack([_cell(picture, row, column) for row in range(2) for column in range(3)])
  at_step_1 = keras_gen.load(model_dir, step=1)
  assert np.abs(cells - at_step_1.sample(6, seed=0).astype(np.int32)).max() <= 1
  # The tiny G moves its outputs by less than one grey level in a step: compare floats.
  step_1_floats = at_step_1.sample(6, seed=0, dtype="float32")
  newest_floats = keras_gen.load(model_dir).sample(6, seed=0, dtype="float32")
  assert np.abs(step_1_floats - newest_floats).max() > 1e-4
  with pytest.raises(config_lib.ConfigError, match="holds no checkpoint at step 3; the steps it "
                     "holds: 1, 2."):
    keras_gen.load(model_dir, step=3)


@pytest.mark.parametrize("fields, message", [
    (dict(saved_model="export", step=1), "--step picks a checkpoint of --model_dir"),
    (dict(model_dir="run", step=1, mode="timeline"), "--mode=timeline draws every checkpoint"),
])
def test_step_is_refused_where_it_picks_nothing(fields, message):
  options = options_lib.Options(**dict(dict(mode="grid"), **fields))
  with pytest.raises(config_lib.ConfigError, match=message):
    options_lib.check(options)


@pytest.mark.parametrize("source", ["model_dir", "saved_model"])
def test_interpolation_endpoints_equal_the_samples_at_the_endpoint_latents(
    dcgan, tmp_path, source):
  location = {"model_dir": dcgan[0], "saved_model": dcgan[1]}[source]
  grid = _draw("grid", tmp_path, rows=2, columns=3, **{source: location})
  grid_picture = _png(_only(grid.paths, ".png"))
  strip = _draw("interpolate", tmp_path, latents=_only(grid.paths, "_latents.npy"),
                indices=(0, 5), steps=4, **{source: location})
  strip_picture = _png(_only(strip.paths, ".png"))
  assert strip_picture.shape == (SIZE, 4 * SIZE + 3 * GAP, 1)
  assert np.abs(_cell(strip_picture, 0, 0) - _cell(grid_picture, 0, 0)).max() <= 1
  assert np.abs(_cell(strip_picture, 0, 3) - _cell(grid_picture, 1, 2)).max() <= 1
  assert np.abs(_cell(strip_picture, 0, 1) - _cell(strip_picture, 0, 0)).max() > 0


def test_autoencoder_strips_run_from_a_real_image_to_another_through_their_codes(
    autoencoder, tiny_npz, tmp_path):
  _, export_path = autoencoder
  result = _draw("interpolate", tmp_path, saved_model=export_path, indices=(0, 1), steps=3,
                 split="train")
  picture = _png(_only(result.paths, ".png"))
  wide = 2 * GAP  # The real images are set apart by this much more.
  starts = [0, SIZE + GAP + wide, 2 * SIZE + 2 * GAP + wide, 3 * SIZE + 3 * GAP + wide,
            4 * SIZE + 4 * GAP + 2 * wide]
  assert picture.shape == (SIZE, starts[-1] + SIZE, 1)
  real = np.load(tiny_npz)["images"][:2].astype(np.int32)
  np.testing.assert_array_equal(_cell(picture, 0, 0, x=starts[0]), real[0])
  np.testing.assert_array_equal(_cell(picture, 0, 0, x=starts[4]), real[1])
  model = models.from_export(export_path)
  reconstructions = layout.to_uint8(model.reconstruct(real / 127.5 - 1.0)).astype(np.int32)
  assert np.abs(_cell(picture, 0, 0, x=starts[1]) - reconstructions[0]).max() <= 1
  assert np.abs(_cell(picture, 0, 0, x=starts[3]) - reconstructions[1]).max() <= 1


def test_video_gifs_decode_to_the_requested_frames_of_rows_by_columns_cells(
    dcgan, autoencoder, tmp_path):
  walk = _draw("video", tmp_path, model_dir=dcgan[0], rows=1, columns=2, frames=6)
  frames = tf.io.decode_gif(tf.io.read_file(_only(walk.paths, ".gif"))).numpy()
  assert frames.shape == (6, SIZE, 2 * SIZE + GAP, 3)
  assert np.abs(frames[1].astype(int) - frames[0]).max() > 0
  tour = _draw("video", tmp_path, saved_model=autoencoder[1], rows=2, columns=1, frames=5,
               fps=2, split="train")
  path = _only(tour.paths, ".gif")
  assert os.path.basename(path) == "autoencoder_step0000001_video_images_seed0.gif"
  assert tf.io.decode_gif(tf.io.read_file(path)).shape == (5, 2 * SIZE + GAP, SIZE, 3)


def test_a_timeline_has_one_row_per_checkpoint_at_the_same_latents(dcgan, autoencoder, tmp_path):
  result = _draw("timeline", tmp_path, model_dir=dcgan[0], columns=3, tensorboard=True)
  path = _only(result.paths, ".png")
  assert os.path.basename(path) == "dcgan_step0000002_timeline_steps1-2_seed0.png"
  picture = _png(path)
  band_gap = 4 * GAP
  assert picture.shape == (2 * SIZE + band_gap, 3 * SIZE + 2 * GAP, 1)
  assert np.abs(_cell(picture, 0, 0) - _cell(picture, 1, 0, row_gap=band_gap)).max() > 0
  assert os.listdir(tmp_path / "tensorboard")
  originals_first = _png(_only(_draw("timeline", tmp_path, model_dir=autoencoder[0], columns=2,
                                     split="train").paths, ".png"))
  assert originals_first.shape == (2 * SIZE + band_gap, 2 * SIZE + GAP, 1)


def test_reconstruct_reports_each_images_error_as_the_pictures_show_it(autoencoder, tmp_path):
  result = _draw("reconstruct", tmp_path, model_dir=autoencoder[0], indices=(3, 4, 5),
                 columns=3, split="train")
  picture = _png(_only(result.paths, ".png"))
  assert picture.shape == (3 * SIZE + 2 * GAP, 3 * SIZE + 2 * GAP, 1)
  with open(_only(result.paths, ".json")) as f:
    errors = json.load(f)
  assert errors["indices"] == [3, 4, 5]
  for column, mse in enumerate(errors["mse"]):
    inputs, outputs = _cell(picture, 0, column), _cell(picture, 1, column)
    assert np.mean(np.square((outputs - inputs) / 255.0)) == pytest.approx(mse, abs=2e-3)
  np.testing.assert_allclose(errors["psnr_db"], 10 * np.log10(1 / np.array(errors["mse"])),
                             rtol=1e-6)


def test_a_vae_samples_its_prior_and_interpolates_between_real_images(tiny_npz, tmp_path):
  model_dir, export_path = _train(f"npz:{tiny_npz}", tmp_path / "vae", "vae",
                                  {"hidden_units": 16, "latent_dim": 4})
  grid = _draw("grid", tmp_path, saved_model=export_path, rows=2, columns=2)
  assert _png(_only(grid.paths, ".png")).shape == (2 * SIZE + GAP, 2 * SIZE + GAP, 1)
  strip = _draw("interpolate", tmp_path, model_dir=model_dir, rows=1, steps=2, split="train")
  assert _only(strip.paths, ".png").endswith("vae_step0000001_interpolate_images_linear_seed0.png")


def test_a_points_generator_is_drawn_as_a_scatter_plot(tmp_path):
  model_dir, _ = _train("ring8", tmp_path / "gan", "gan",
                        {"latent_dim": 4, "g_units": 8, "d_units": 8})
  result = _draw("grid", tmp_path, model_dir=model_dir, num_points=200)
  assert _png(_only(result.paths, "_points_seed0.png")).shape == (256, 256, 3)
  with pytest.raises(config_lib.ConfigError, match="generates 2-D points"):
    _draw("interpolate", tmp_path, model_dir=model_dir)


def test_user_errors_name_the_flag_or_the_model(dcgan, autoencoder, tmp_path):
  assert options_lib.MAX_IMAGES == serving.MAX_BATCH  # A grid is one request to an export.
  with pytest.raises(config_lib.ConfigError, match="at most 1024"):
    _draw("grid", tmp_path, model_dir=dcgan[0], rows=40, columns=40)
  with pytest.raises(config_lib.ConfigError, match="give --model_dir, not --saved_model"):
    _draw("timeline", tmp_path, saved_model=dcgan[1])
  with pytest.raises(config_lib.ConfigError, match="needs an autoencoder"):
    _draw("reconstruct", tmp_path, saved_model=dcgan[1])
  with pytest.raises(config_lib.ConfigError, match="pairs"):
    _draw("interpolate", tmp_path, saved_model=autoencoder[1], indices=(1, 2, 3))
  with pytest.raises(config_lib.ConfigError, match="exactly one of"):
    _draw("grid", tmp_path)


def _cli(*flags):
  return subprocess.run([sys.executable, "-m", "keras_gen.generate", *flags],
                        capture_output=True, text=True, cwd=REPO,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def test_cli_writes_a_grid_and_prints_where(dcgan, tmp_path):
  result = _cli("--mode=grid", f"--saved_model={dcgan[1]}", f"--output_dir={tmp_path}",
                "--rows=1", "--columns=2", "--seed=5", "--truncation=1.0")
  assert result.returncode == 0, result.stderr
  path = os.path.join(tmp_path, "dcgan_step0000002_grid1x2_seed5.png")
  assert f"Wrote {path}" in result.stdout
  assert _png(path).shape == (SIZE, 2 * SIZE + GAP, 1)


@pytest.mark.parametrize("flags, message", [
    (("--rows=100", "--columns=100"), "asks for 10000 images; one picture holds at most 1024"),
    ((), "'autoencoder' is an autoencoder without one: it is not a generator"),
])
def test_cli_bad_arguments_exit_2_with_one_error_line(autoencoder, tmp_path, flags, message):
  result = _cli("--mode=grid", f"--model_dir={autoencoder[0]}", f"--output_dir={tmp_path}",
                *flags)
  assert result.returncode == 2
  errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
  assert len(errors) == 1 and message in errors[0], result.stderr
  assert not os.listdir(tmp_path)

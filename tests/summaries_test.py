"""Image grids, the progress line and the HParams dashboard's data."""

import dataclasses
import glob
import os

import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import metadata as hparams_metadata

from keras_gen import config as config_lib
from keras_gen.engine import loop
from keras_gen.engine import summaries


def test_image_grid_tiles_images_row_by_row_and_maps_minus_one_to_zero():
  images = np.stack([np.full([2, 3, 1], value) for value in (-1.0, 0.0, 1.0)])
  grid = summaries.image_grid(images)
  assert grid.shape == (1, 4, 6, 1) and grid.dtype == np.uint8
  assert grid[0, 0, 0, 0] == 0 and grid[0, 0, 3, 0] == 128 and grid[0, 2, 0, 0] == 255
  assert grid[0, 2, 3, 0] == 0  # The unused fourth tile stays black.


def test_progress_line_shows_step_losses_speed_and_eta():
  progress = summaries.Progress(total_steps=100, global_batch_size=10, start_step=0)
  line = progress.line(50, {"g_loss": 1.5, "d_loss": 0.25}, images_per_sec=200.0,
                       step_time=0.05)
  assert line == ("step 50/100  d_loss 0.2500  g_loss 1.5000  200.0 img/s  50.0 ms/step  "
                  "ETA 0:00:03")


def test_progress_measures_nothing_when_no_step_ran():
  progress = summaries.Progress(total_steps=10, global_batch_size=4, start_step=3)
  assert progress.measure(3) == (None, None)
  assert progress.line(3, {"loss": 1.0}, None, None) == "step 3/10  loss 1.0000"


def _hparams_plugin_data(model_dir):
  """{tag: HParams plugin content bytes} of the summaries under MODEL_DIR/train."""
  contents = {}
  for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value:
        if value.metadata.plugin_data.plugin_name == hparams_metadata.PLUGIN_NAME:
          contents[value.tag] = value.metadata.plugin_data.content
  return contents


def test_hparams_are_the_run_settings_and_every_model_hyperparameter_as_tensorboard_types():
  config = config_lib.TrainConfig(model="progan", hparams={"latent_dim": 64,
                                                          "minibatch_overrides": {"256": 16}})
  config = loop.resolve(dataclasses.replace(config, model_dir="unused"))

  values = summaries.hparams_of(config)

  assert values["model"] == "progan" and values["latent_dim"] == 64
  assert values["batch_size"] == 64 and values["xla"] is False
  assert set(values) == set(summaries.HPARAMS_FIELDS) | set(config.hparams)
  assert values["minibatch_overrides"] == str(config.hparams["minibatch_overrides"])


def test_the_hparams_dashboard_gets_the_settings_and_declares_metrics_and_losses(tmp_path):
  config = loop.resolve(config_lib.TrainConfig(model="autoencoder", model_dir=str(tmp_path),
                                               hparams={"code_size": 8}))
  writer = summaries.Summaries(str(tmp_path))
  writer.hparams(config)
  writer.scalars({"loss/mse": 0.5, "perf/step_time_ms": 3.0}, step=1)
  writer.metrics({"reconstruction/mse": 0.25, "reconstruction/num_samples": 16}, step=2)
  writer.metrics({"reconstruction/mse": 0.125, "reconstruction/num_samples": 16}, step=4)
  writer.close()

  contents = _hparams_plugin_data(str(tmp_path))

  session = hparams_metadata.parse_session_start_info_plugin_data(
      contents[hparams_metadata.SESSION_START_INFO_TAG])
  assert session.hparams["code_size"].number_value == 8
  assert session.hparams["model"].string_value == "autoencoder"
  experiment = hparams_metadata.parse_experiment_plugin_data(
      contents[hparams_metadata.EXPERIMENT_TAG])
  assert [info.name.tag for info in experiment.metric_infos] == ["metrics/reconstruction/mse",
                                                                 "loss/mse"]
  assert {info.name for info in experiment.hparam_infos} == set(summaries.hparams_of(config))

"""Checkpoints and the run folder's identity when their files are damaged, half-written or
the disk is full: the newest intact state is used and the damage is named, never blamed on
the configuration."""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import assert_same_weights
from conftest import network_weights
from keras_gen import config as config_lib
from keras_gen import serving
from keras_gen import storage
from keras_gen.engine import checkpoints
from keras_gen.engine import loop
from keras_gen.engine import restore


def _data_file(model_dir, step):
  return os.path.join(model_dir, "checkpoints", f"ckpt-{step}.data-00000-of-00001")


def _cut_in_half(path):
  os.truncate(path, os.path.getsize(path) // 2)


def _overwrite_4_kib_in_the_middle(path):
  with open(path, "r+b") as f:
    f.seek(os.path.getsize(path) // 2 - 2048)
    f.write(np.random.default_rng(0).bytes(4096))


@pytest.fixture
def three_checkpoints(tiny_config):
  """A finished 6-step run with checkpoints at steps 2, 4 and 6, and its final weights."""
  config = tiny_config("autoencoder", train_steps=6, checkpoint_every=2)
  loop.run(config)
  return config, network_weights(config.model_dir)


@pytest.mark.parametrize("damage", [_cut_in_half, _overwrite_4_kib_in_the_middle])
def test_a_damaged_newest_checkpoint_is_named_and_the_run_resumes_from_the_newest_intact_one(
    three_checkpoints, damage, capsys):
  config, weights_at_6 = three_checkpoints
  damage(_data_file(config.model_dir, 6))
  capsys.readouterr()
  result = loop.run(config)
  assert (result.start_step, result.step) == (4, 6)
  warning = capsys.readouterr().err
  assert f"Warning: damaged checkpoint {config.model_dir}/checkpoints/ckpt-6 (" in warning
  assert f"using {config.model_dir}/checkpoints/ckpt-4 (step 4), the newest intact one" in warning
  assert "configuration" not in warning
  # Steps 5 and 6 again, exactly as the first time; their checkpoint replaced the damaged one.
  assert checkpoints.damage(os.path.join(config.model_dir, "checkpoints", "ckpt-6")) is None
  assert_same_weights(network_weights(config.model_dir), weights_at_6)


def test_when_every_checkpoint_is_damaged_the_run_stops_naming_each_file(three_checkpoints):
  config, _ = three_checkpoints
  for step in (2, 4, 6):
    _overwrite_4_kib_in_the_middle(_data_file(config.model_dir, step))
  with pytest.raises(storage.StorageError) as error:
    loop.run(config)
  message = str(error.value)
  assert message.startswith("No intact checkpoint to restore: ")
  for step in (2, 4, 6):
    assert f"{config.model_dir}/checkpoints/ckpt-{step} (" in message
  assert "configuration" not in message


def test_export_of_a_damaged_newest_checkpoint_uses_the_newest_intact_one(three_checkpoints,
                                                                          capsys):
  config, _ = three_checkpoints
  _cut_in_half(_data_file(config.model_dir, 6))
  run = restore.load_run(config.model_dir)
  assert run.step == 4 and run.checkpoint_path.endswith("ckpt-4")
  assert "Warning: damaged checkpoint" in capsys.readouterr().err


def test_an_intact_checkpoint_of_another_configuration_is_still_called_one(tiny_config):
  loop.run(tiny_config("autoencoder", train_steps=1))
  os.remove(os.path.join(tiny_config("autoencoder").model_dir, "config.json"))
  with pytest.raises(config_lib.ConfigError, match="written by a different configuration"):
    loop.run(tiny_config("autoencoder", train_steps=2, hparams={"code_size": 4}))


@pytest.mark.parametrize("contents,problem", [
    (bytes(range(256)) * 4, "can't decode byte"),
    (b'{"model": "autoencoder", "dataset": ', "Expecting value"),
    (b'["autoencoder"]', "a JSON list"),
    (b'{"model": "autoencoder", "colour": "red"}', "unknown fields ['colour']"),
])
def test_a_damaged_config_json_is_named_in_one_sentence(tiny_config, contents, problem):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  path = os.path.join(config.model_dir, "config.json")
  with open(path, "wb") as f:
    f.write(contents)
  for attempt in (lambda: loop.run(config), lambda: restore.load_run(config.model_dir)):
    with pytest.raises(storage.StorageError) as error:
      attempt()
    assert str(error.value).startswith(f"{path} is damaged (")
    assert problem in str(error.value)
    assert "\n" not in str(error.value)


def test_a_model_dir_that_is_a_file_is_refused(tiny_config, tmp_path):
  config = tiny_config("autoencoder", model_dir=str(tmp_path / "plain_file"))
  (tmp_path / "plain_file").write_text("not a folder")
  with pytest.raises(config_lib.ConfigError, match=r"plain_file is a file, not a folder\.$"):
    loop.run(config)


def test_temporary_folders_and_data_without_an_index_from_killed_saves_are_removed_at_start(
    tiny_config):
  config = tiny_config("autoencoder", train_steps=2, checkpoint_every=1)
  loop.run(config)
  folder = os.path.join(config.model_dir, "checkpoints")
  # What a kill during the save of step 3 leaves: TensorFlow's temporary shard folder,
  # or the data file renamed into place before its index was written.
  os.makedirs(os.path.join(folder, "ckpt-3_temp"))
  with open(os.path.join(folder, "ckpt-3_temp", "part-00000-of-00001.data-00000-of-00001"),
            "wb") as f:
    f.write(b"\0" * 1024)
  with open(_data_file(config.model_dir, 3), "wb") as f:
    f.write(b"\0" * 1024)
  partial_export = os.path.join(config.model_dir, "export", ".3.partial-abc123")
  os.makedirs(partial_export)
  config.train_steps = 3
  assert loop.run(config).start_step == 2
  assert sorted(os.listdir(folder)) == [
      "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index", "ckpt-2.data-00000-of-00001",
      "ckpt-2.index", "ckpt-3.data-00000-of-00001", "ckpt-3.index"]
  assert sorted(os.listdir(os.path.join(config.model_dir, "export"))) == ["2", "3"]


def _disk_full(*args, **kwargs):
  raise tf.errors.ResourceExhaustedError(
      None, None, "/run/ckpt-4_temp/part-00000-of-00001.data-00000-of-00001; No space left on "
      "device")


def test_a_checkpoint_save_that_fills_the_disk_stops_the_run_and_leaves_the_previous_intact(
    tiny_config, monkeypatch):
  config = tiny_config("autoencoder", train_steps=6, checkpoint_every=2)
  saves = []
  real_save = tf.train.CheckpointManager.save

  def save_until_the_disk_fills(manager, checkpoint_number=None, **kwargs):
    saves.append(checkpoint_number)
    if checkpoint_number < 4:
      return real_save(manager, checkpoint_number=checkpoint_number, **kwargs)
    # Half of a save: TensorFlow's temporary folder and a data file, then ENOSPC.
    os.makedirs(os.path.join(manager.directory, "ckpt-4_temp"))
    with open(_data_file(config.model_dir, 4), "wb") as f:
      f.write(b"\0" * 100)
    _disk_full()

  monkeypatch.setattr(tf.train.CheckpointManager, "save", save_until_the_disk_fills)
  with pytest.raises(storage.StorageError) as error:
    loop.run(config)
  assert str(error.value) == (
      f"No space left on device for {config.model_dir} (or its export folder); the checkpoint "
      f"of step 2 is intact: free space and rerun the same command to resume.")
  assert saves == [2, 4]
  assert sorted(os.listdir(os.path.join(config.model_dir, "checkpoints"))) == [
      "checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
  assert not os.path.exists(os.path.join(config.model_dir, "lock"))
  monkeypatch.undo()
  config.train_steps = 2
  assert loop.run(config).start_step == 2  # The intact checkpoint is usable.


def test_an_export_that_fills_the_disk_leaves_no_version_behind(tiny_config, monkeypatch):
  config = tiny_config("autoencoder", train_steps=2)

  def save_half_then_fill_the_disk(module, path, signatures=None):
    del module, signatures
    with open(os.path.join(path, "saved_model.pb"), "wb") as f:
      f.write(b"\0" * 100)
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(tf.saved_model, "save", save_half_then_fill_the_disk)
  with pytest.raises(storage.StorageError, match=(
      r"^Cannot write the export .*/export/2 \(No space left on device\); nothing was left "
      r"there: fix that and export again")):
    loop.run(config)
  assert os.listdir(os.path.join(config.model_dir, "export")) == []
  assert checkpoints.read_latest_step(config.model_dir) == 2


def test_export_refuses_weights_that_are_not_finite(tiny_config):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  run = restore.load_run(config.model_dir)
  run.networks["decoder"].variables[0].assign(
      np.full(run.networks["decoder"].variables[0].shape, np.inf, np.float32))
  with pytest.raises(storage.StorageError, match=(
      r"^The checkpoint of step 1 holds NaN or infinite weights \(in decoder/[^,]*\); "
      r"refusing to export it\.$")):
    serving.export(run.family, run.networks, run.config, run.step,
                   os.path.join(config.model_dir, "again"))
  assert not os.path.exists(os.path.join(config.model_dir, "again"))


def test_untracked_checkpoints_and_state_file_temporaries_left_by_kills_are_trimmed_at_start(
    tiny_config, capsys):
  config = tiny_config("autoencoder", train_steps=6, checkpoint_every=1, keep_checkpoints=5)
  loop.run(config)
  folder = os.path.join(config.model_dir, "checkpoints")
  # Kills just after the renames of the saves at steps 4 and 6, before the state file listed
  # them (each run resumed from the newest complete checkpoint, so step 5 was saved after 4),
  # and one in the middle of the state file's own atomic write.
  tf.compat.v1.train.update_checkpoint_state(
      folder, "ckpt-5", ["ckpt-2", "ckpt-3", "ckpt-5"],
      all_model_checkpoint_timestamps=[os.path.getmtime(os.path.join(folder, f"ckpt-{step}.index"))
                                       for step in (2, 3, 5)])
  with open(os.path.join(folder, "checkpoint.tmp0123456789abcdef"), "w") as f:
    f.write('model_checkpoint_path: "ckpt-')
  assert sorted(os.listdir(folder)) == ["checkpoint", "checkpoint.tmp0123456789abcdef"] + [
      f"ckpt-{step}.{kind}" for step in range(2, 7) for kind in ("data-00000-of-00001", "index")]
  config.train_steps, config.keep_checkpoints = 7, 2
  capsys.readouterr()
  assert loop.run(config).start_step == 6
  assert capsys.readouterr().err == ""  # Only the kills' leftovers: nothing to warn about.
  assert sorted(os.listdir(folder)) == [
      "checkpoint", "ckpt-6.data-00000-of-00001", "ckpt-6.index", "ckpt-7.data-00000-of-00001",
      "ckpt-7.index"]
  assert tf.train.get_checkpoint_state(folder).all_model_checkpoint_paths == [
      os.path.join(folder, "ckpt-6"), os.path.join(folder, "ckpt-7")]


def test_a_full_disk_names_the_newest_checkpoint_that_reads_back_not_the_newest_file(
    tiny_config, monkeypatch):
  config = tiny_config("autoencoder", train_steps=4, checkpoint_every=2)
  loop.run(config)
  _cut_in_half(_data_file(config.model_dir, 4))
  # The run resumes from step 2 (4 is damaged) and the disk is full at its save of step 3.
  monkeypatch.setattr(tf.train.CheckpointManager, "save", _disk_full)
  config.train_steps, config.checkpoint_every = 6, 1
  with pytest.raises(storage.StorageError) as error:
    loop.run(config)
  assert str(error.value) == (
      f"No space left on device for {config.model_dir} (or its export folder); the checkpoint "
      f"of step 2 is intact: free space and rerun the same command to resume.")

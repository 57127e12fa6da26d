"""Broken files and wrong folders reach the user as one sentence, exit code 2, and no damage."""

import builtins
import dataclasses
import errno
import gzip
import hashlib
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_HPARAMS
from keras_gen import cli
from keras_gen import export
from keras_gen.engine import checkpoints
from keras_gen.engine import loop
from keras_gen.engine import restore
from keras_gen.generation import commands
from keras_gen.generation import options as options_lib
from keras_gen.metrics import evaluation

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_AUTOENCODER = TINY_HPARAMS["autoencoder"]


def _train(*flags):
  return subprocess.run([sys.executable, "-m", "keras_gen.train", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def _export(*flags):
  return subprocess.run([sys.executable, "-m", "keras_gen.export", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def _folder_digest(path):
  digest = hashlib.sha256()
  for root, _, files in sorted(os.walk(path)):
    for name in sorted(files):
      with open(os.path.join(root, name), "rb") as f:
        digest.update(name.encode() + f.read())
  return digest.hexdigest()


def _idx_with_wrong_magic(directory):
  directory.mkdir()
  with gzip.open(directory / "train-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 0x0801, 2, 28, 28) + bytes(2 * 28 * 28))
  with gzip.open(directory / "train-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 0x0801, 2) + bytes(2))
  return ["--dataset=fashion_mnist", f"--data_dir={directory}"], "train-images-idx3-ubyte"


def _npz_with_wrong_keys(directory):
  directory.mkdir()
  np.savez(directory / "bad.npz", pictures=np.zeros([4, 8, 8], np.uint8))
  return [f"--dataset=npz:{directory / 'bad.npz'}"], "bad.npz"


def _npz_that_is_plain_text(directory):
  directory.mkdir()
  (directory / "notes.npz").write_text("hello world\nthis is text\n")
  return [f"--dataset=npz:{directory / 'notes.npz'}"], "notes.npz is not a numpy .npz archive"


def _empty_folder(directory):
  directory.mkdir()
  return [f"--dataset=folder:{directory}"], str(directory)


def _undecodable_image(directory):
  directory.mkdir()
  (directory / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
  return [f"--dataset=folder:{directory}"], "broken.png"


@pytest.mark.parametrize("make_input", [_idx_with_wrong_magic, _npz_with_wrong_keys,
                                        _npz_that_is_plain_text, _empty_folder,
                                        _undecodable_image])
def test_a_broken_dataset_is_named_and_nothing_is_written(tmp_path, make_input):
  flags, named = make_input(tmp_path / "data")
  model_dir = tmp_path / "run"
  result = _train("--model=autoencoder", f"--model_dir={model_dir}", *flags)
  assert result.returncode == 2, result.stderr[-1000:]
  error = result.stderr.strip().splitlines()[-1]
  assert error.startswith("Error: ") and named in error
  assert "pickle" not in error and ".." not in error
  assert not model_dir.exists()


def test_a_model_dir_of_another_model_is_refused_and_left_as_it_was(tmp_path, tiny_npz):
  model_dir = tmp_path / "run"
  first = _train("--model=autoencoder", f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}",
                 "--train_steps=2", "--batch_size=8", "--hparams=filters=4,code_size=8")
  assert first.returncode == 0, first.stderr[-1000:]
  before = _folder_digest(model_dir)
  second = _train("--model=dcgan", f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}",
                  "--train_steps=2", "--batch_size=8")
  assert second.returncode == 2
  assert "holds a run with model='autoencoder', not 'dcgan'" in second.stderr
  assert _folder_digest(model_dir) == before


def test_no_pickle_in_any_save_or_load_path():
  offenders = []
  for root, _, files in os.walk(os.path.join(REPO, "keras_gen")):
    for name in files:
      if name.endswith(".py"):
        with open(os.path.join(root, name)) as f:
          text = f.read()
        if "import pickle" in text or "allow_pickle=True" in text or "cPickle" in text:
          offenders.append(name)
  assert offenders == []


def _run_folder(tiny_config):
  """A 4-step autoencoder run with checkpoints at 2 and 4, and the command that resumes it."""
  config = tiny_config("autoencoder", train_steps=4, checkpoint_every=2)
  loop.run(config)
  hparams = ",".join(f"{k}={v}" for k, v in config.hparams.items() if k in TINY_AUTOENCODER)
  return config, ["--model=autoencoder", f"--dataset={config.dataset}",
                  f"--model_dir={config.model_dir}", "--train_steps=4", "--batch_size=8",
                  "--checkpoint_every=2", f"--hparams={hparams}"]


def _one_sentence_error(result):
  assert result.returncode == 2, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  return result.stderr.strip().splitlines()[-1]


def test_a_damaged_newest_checkpoint_is_named_and_the_intact_one_resumed(tiny_config):
  config, command = _run_folder(tiny_config)
  newest = os.path.join(config.model_dir, "checkpoints", "ckpt-4.data-00000-of-00001")
  os.truncate(newest, os.path.getsize(newest) // 2)
  result = _train(*command)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (f"Warning: damaged checkpoint {config.model_dir}/checkpoints/ckpt-4 (Read less bytes "
          f"than requested); using {config.model_dir}/checkpoints/ckpt-2 (step 2), the newest "
          f"intact one." in result.stderr)
  assert f"Resumed from {config.model_dir}/checkpoints/ckpt-2 at step 2." in result.stdout


def test_when_every_checkpoint_is_damaged_train_exits_2_naming_them(tiny_config):
  config, command = _run_folder(tiny_config)
  for step in (2, 4):
    with open(os.path.join(config.model_dir, "checkpoints",
                           f"ckpt-{step}.data-00000-of-00001"), "r+b") as f:
      f.seek(1000)
      f.write(bytes(4096))
  error = _one_sentence_error(_train(*command))
  assert error.startswith(f"Error: No intact checkpoint to restore: {config.model_dir}/"
                          f"checkpoints/ckpt-4 (")
  assert "Checksum does not match" in error and "checkpoints/ckpt-2 (" in error
  assert "configuration" not in error


def test_a_damaged_config_json_gets_one_sentence_from_train_and_export(tiny_config):
  config, command = _run_folder(tiny_config)
  path = os.path.join(config.model_dir, "config.json")
  with open(path, "wb") as f:
    f.write(np.random.default_rng(0).bytes(300))
  for result in (_train(*command), _export(f"--model_dir={config.model_dir}")):
    assert _one_sentence_error(result).startswith(f"Error: {path} is damaged (")


@pytest.mark.parametrize("model_dir,error", [
    ("a_file", "is a file, not a folder."),
    ("/proc/forbidden/run", "cannot be created (No such file or directory)."),
])
def test_a_model_dir_that_cannot_be_a_folder_gets_one_sentence(tiny_npz, tmp_path, model_dir,
                                                               error):
  (tmp_path / "a_file").write_text("a file")
  model_dir = str(tmp_path / model_dir) if model_dir == "a_file" else model_dir
  result = _train("--model=autoencoder", f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}",
                  "--train_steps=1", "--batch_size=8")
  assert _one_sentence_error(result) == f"Error: --model_dir={model_dir} {error}"


def test_export_of_a_checkpoint_with_non_finite_weights_exits_2_and_writes_nothing(tiny_config):
  config, _ = _run_folder(tiny_config)
  run = restore.load_run(config.model_dir)
  for variable in run.networks["encoder"].trainable_variables:
    variable.assign(np.full(variable.shape, np.nan, np.float32))
  tf.train.CheckpointManager(
      checkpoints.make_checkpoint(tf.Variable(5, dtype=tf.int64), run.networks),
      os.path.join(config.model_dir, "checkpoints"), max_to_keep=None).save(checkpoint_number=5)
  result = _export(f"--model_dir={config.model_dir}")
  assert _one_sentence_error(result).startswith(
      "Error: The checkpoint of step 5 holds NaN or infinite weights (in encoder/")
  assert sorted(os.listdir(os.path.join(config.model_dir, "export"))) == ["4"]


def _evaluate(*flags):
  return subprocess.run([sys.executable, "-m", "keras_gen.evaluate", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def _generate(*flags):
  return subprocess.run([sys.executable, "-m", "keras_gen.generate", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("contents,problem", [
    (b"\xff\xfe" + bytes(range(256)), "not text: 'utf-8' codec can't decode byte 0xff in "
                                      "position 0: invalid start byte"),
    (b"", "it names no checkpoint"),
], ids=["random_bytes", "empty"])
def test_a_damaged_checkpoint_state_file_is_rebuilt_from_the_checkpoint_files(tiny_config,
                                                                               contents, problem):
  config, command = _run_folder(tiny_config)
  folder = os.path.join(config.model_dir, "checkpoints")
  with open(os.path.join(folder, "checkpoint"), "wb") as f:
    f.write(contents)
  # Export, evaluate and generate read the checkpoint files, never the state file.
  exported = _export(f"--model_dir={config.model_dir}")
  assert (exported.returncode, exported.stdout) == (0, f"Exported {config.model_dir}/export/4\n")
  evaluated = _evaluate(f"--model_dir={config.model_dir}", "--metrics=reconstruction",
                        "--num_samples=16")
  assert evaluated.returncode == 0, evaluated.stderr[-2000:]
  assert f"Wrote {config.model_dir}/eval/step0000004.json" in evaluated.stdout
  drawn = _generate(f"--model_dir={config.model_dir}", "--mode=timeline")
  assert drawn.returncode == 0, drawn.stderr[-2000:]
  assert "Rows top to bottom: row 0: the real images; then steps 2, 4." in drawn.stdout
  # Training, whose checkpoint manager reads it, rebuilds it with a warning and resumes.
  trained = _train(*[flag.replace("--train_steps=4", "--train_steps=6") for flag in command])
  assert trained.returncode == 0, trained.stderr[-2000:]
  assert "Traceback" not in trained.stderr
  assert (f"Warning: {folder}/checkpoint is damaged ({problem}); rebuilt it from the complete "
          f"checkpoints in the folder: ckpt-2, ckpt-4.\n") in trained.stderr
  assert f"Resumed from {folder}/ckpt-4 at step 4." in trained.stdout
  state = tf.train.get_checkpoint_state(folder)
  assert [os.path.basename(path) for path in state.all_model_checkpoint_paths] == [
      "ckpt-2", "ckpt-4", "ckpt-6"]


@pytest.mark.parametrize("run,error", [
    (lambda tiny_npz: _train("--model=autoencoder", f"--dataset=npz:{tiny_npz}",
                             "--model_dir=/proc/self", "--train_steps=1", "--batch_size=8"),
     "--model_dir=/proc/self is not writable (cannot create /proc/self/lock: No such file or "
     "directory); make it writable, or work on a writable copy of it."),
    (lambda tiny_npz: _export("--model_dir=/proc/self"),
     "--model_dir=/proc/self holds no keras_gen run (no config.json)."),
    (lambda tiny_npz: _evaluate("--model_dir=/proc/self", "--metrics=reconstruction"),
     "--model_dir=/proc/self holds no keras_gen run (no config.json)."),
    (lambda tiny_npz: _generate("--model_dir=/proc/self", "--mode=reconstruct"),
     "--model_dir=/proc/self holds no keras_gen run (no config.json)."),
], ids=["train", "export", "evaluate", "generate"])
def test_a_model_dir_that_cannot_hold_files_gets_one_sentence(tiny_npz, run, error):
  assert _one_sentence_error(run(tiny_npz)) == f"Error: {error}"


@pytest.fixture
def read_only(monkeypatch):
  """Makes a folder and everything in it read-only: by its mode bits, or for root, whom mode
  bits do not stop, by refusing (EACCES) every Python call of this process that would create
  or open for writing a file or folder in it (nothing reaches TensorFlow's own writes first)."""
  changed = []

  def make(folder):
    folder = os.path.abspath(folder)
    if os.geteuid() != 0:
      for root, _, files in os.walk(folder):
        for path in [root] + [os.path.join(root, name) for name in files]:
          changed.append((path, os.stat(path).st_mode))
          os.chmod(path, os.stat(path).st_mode & ~0o222)
      return

    def refuse_inside(path):
      if os.path.abspath(os.fsdecode(path)).startswith(folder + os.sep):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    real_open, real_os_open, real_mkdir = builtins.open, os.open, os.mkdir

    def os_open(path, flags, mode=0o777, *, dir_fd=None):
      if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        refuse_inside(path)
      return real_os_open(path, flags, mode, dir_fd=dir_fd)

    def mkdir(path, mode=0o777, *, dir_fd=None):
      refuse_inside(path)
      return real_mkdir(path, mode, dir_fd=dir_fd)

    def open_(file, mode="r", *args, **kwargs):
      if not isinstance(file, int) and set(mode) & set("wax+"):
        refuse_inside(file)
      return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(builtins, "open", open_)

  yield make
  for path, mode in reversed(changed):
    os.chmod(path, mode)


def _folders_and_digest(path):
  return sorted(root for root, _, _ in os.walk(path)), _folder_digest(path)


@pytest.mark.parametrize("command", ["train", "export", "evaluate", "generate"])
def test_a_read_only_run_folder_gets_one_sentence_naming_it_and_is_left_as_it_was(
    tiny_config, read_only, capsys, command):
  config, _ = _run_folder(tiny_config)
  model_dir = config.model_dir
  before = _folders_and_digest(model_dir)
  read_only(model_dir)
  run = {"train": lambda: loop.run(dataclasses.replace(config, train_steps=6)),
         "export": lambda: export.export(model_dir),
         "evaluate": lambda: evaluation.evaluate(model_dir=model_dir,
                                                 metric_names=["reconstruction"], num_samples=16),
         "generate": lambda: commands.run(options_lib.Options(mode="reconstruct",
                                                              model_dir=model_dir))}[command]
  capsys.readouterr()
  with pytest.raises(SystemExit) as exit_:
    cli.exit_on_user_error(run)
  error = capsys.readouterr().err
  assert exit_.value.code == 2 and "Traceback" not in error
  assert error.strip().splitlines()[-1] == "Error: " + {
      "train": f"--model_dir={model_dir} is not writable (cannot create {model_dir}/lock: "
               f"Permission denied); make it writable, or work on a writable copy of it.",
      "export": f"--model_dir={model_dir} is not writable (cannot create {model_dir}/lock: "
                f"Permission denied); make it writable, or work on a writable copy of it.",
      "evaluate": f"{model_dir}/eval cannot be created: {model_dir} is not writable (Permission "
                  f"denied); pass --output=PATH to write the results elsewhere.",
      "generate": f"{model_dir}/generated cannot be created: {model_dir} is not writable "
                  f"(Permission denied); choose another folder for the pictures with "
                  f"--output_dir=FOLDER."}[command]
  assert _folders_and_digest(model_dir) == before

"""Broken files and wrong folders reach the user as one sentence, exit code 2, and no damage."""

import gzip
import hashlib
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(*flags):
  return subprocess.run([sys.executable, "-m", "keras_gen.train", *flags], cwd=REPO,
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


def _empty_folder(directory):
  directory.mkdir()
  return [f"--dataset=folder:{directory}"], str(directory)


def _undecodable_image(directory):
  directory.mkdir()
  (directory / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
  return [f"--dataset=folder:{directory}"], "broken.png"


@pytest.mark.parametrize("make_input", [_idx_with_wrong_magic, _npz_with_wrong_keys,
                                        _empty_folder, _undecodable_image])
def test_a_broken_dataset_is_named_and_nothing_is_written(tmp_path, make_input):
  flags, named = make_input(tmp_path / "data")
  model_dir = tmp_path / "run"
  result = _train("--model=autoencoder", f"--model_dir={model_dir}", *flags)
  assert result.returncode == 2, result.stderr[-1000:]
  error = result.stderr.strip().splitlines()[-1]
  assert error.startswith("Error: ") and named in error
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

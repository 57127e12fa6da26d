"""A damaged `progan:` dataset as a user meets it: training and `dataset_tool info` name the
file and what it holds in one sentence, and a healthy run prints no TensorFlow C++ line."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import data
from keras_gen.data import record_files
from keras_gen.data import tfrecords
from keras_gen.engine import loop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPARAMS = ",".join(f"{name}={value}" for name, value in TINY_HPARAMS["progan"].items())


def _dataset(tmp_path, name="ds"):
  """40 grey 8x8 images at levels r02 and r03, one file each."""
  images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 1), dtype=np.uint8)
  path = str(tmp_path / name)
  tfrecords.create_from_arrays(path, name, images)
  return path


def _run(module, *args):
  # Without TF_CPP_MIN_LOG_LEVEL, as a user runs it (the test session sets it).
  env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
  return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=600)


def _train(dataset, model_dir):
  return _run("keras_gen.train", "--model=progan", f"--dataset=progan:{dataset}",
              f"--model_dir={model_dir}", f"--hparams={HPARAMS}", "--train_steps=100")


def _cut_at_a_record_boundary(path, name="ds-r03.tfrecords", keep=20):
  level_file = os.path.join(path, name)
  whole = os.path.getsize(level_file)
  os.truncate(level_file, whole * keep // 40)
  return whole


def test_a_level_cut_at_a_record_boundary_stops_training_with_exit_2_naming_both_counts(
    tmp_path):
  path = _dataset(tmp_path)
  whole = _cut_at_a_record_boundary(path)
  message = (f"Dataset {path} level r03 (ds-r03.tfrecords) is truncated or corrupt: the file "
             f"holds 20 images ({whole // 2} bytes), but its dataset.json records 40 images "
             f"({whole} bytes); recreate the dataset with tools/dataset_tool.py.")
  result = _train(path, tmp_path / "run")
  assert result.returncode == 2, result.stderr[-3000:]
  assert result.stderr.strip().splitlines()[-1] == f"Error: {message}"
  assert "Traceback" not in result.stderr
  assert not os.path.exists(tmp_path / "run")
  info = _run("tools.dataset_tool", "info", path)
  assert info.returncode == 2 and info.stdout == ""
  assert info.stderr.strip().splitlines() == [f"Error: {message}"]


def test_a_record_found_corrupt_while_training_is_one_sentence_without_tensorflow_text(tmp_path):
  path = _dataset(tmp_path)
  level_file = os.path.join(path, "ds-r02.tfrecords")
  content = bytearray(open(level_file, "rb").read())
  content[-10] ^= 0xFF  # Inside the last record's image: the size stays, the CRC fails.
  open(level_file, "wb").write(bytes(content))
  result = _train(path, tmp_path / "run")
  assert result.returncode == 2, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith(
      f"Error: Dataset {path} level r02 (ds-r02.tfrecords) is truncated or corrupt: a record "
      f"does not match its checksum (corrupted record at "), last
  assert last.endswith("); checkpoints before this step are intact, recreate the dataset with "
                       "tools/dataset_tool.py.")
  assert "function_node" not in result.stderr and "Traceback" not in result.stderr


def test_a_level_cut_inside_a_record_after_the_start_check_is_named_with_both_counts(
    tmp_path, monkeypatch):
  # As if the file was cut while the run trained: the check at the start passes.
  path = _dataset(tmp_path)
  level_file = os.path.join(path, "ds-r02.tfrecords")
  whole = os.path.getsize(level_file)
  one = whole // 40
  os.truncate(level_file, 3 * one + 30)
  monkeypatch.setattr(record_files, "check", lambda *args: None)
  config = config_lib.TrainConfig(
      model="progan", dataset=f"progan:{path}", model_dir=str(tmp_path / "run"),
      train_steps=100, checkpoint_every=1000, summary_every=1000, log_every=1000,
      hparams=dict(TINY_HPARAMS["progan"]))
  with pytest.raises(data.DataError) as error:
    loop.run(config)
  assert str(error.value) == (
      f"Dataset {path} level r02 (ds-r02.tfrecords) is truncated or corrupt: the file holds 3 "
      f"whole images and 30 bytes of a cut-off one ({3 * one + 30} bytes), but its dataset.json "
      f"records 40 images ({whole} bytes); checkpoints before this step are intact, recreate "
      f"the dataset with tools/dataset_tool.py.")


def test_a_progan_run_prints_no_tensorflow_cpp_line(tmp_path):
  path = _dataset(tmp_path)
  with open(os.path.join(path, "dataset.json")) as f:
    assert sorted(json.load(f)["files"]) == ["ds-r02.tfrecords", "ds-r03.tfrecords"]
  result = _train(path, tmp_path / "run")
  assert result.returncode == 0, result.stderr[-3000:]
  # TensorFlow's C++ log lines look like 'E0000 00:00:1796536890.335660 10681 util.cc:131] ...':
  # the oneDNN uint8 notice (a uint8 transpose) and grappler's "remapper failed" (LeakyRelu's
  # gradient) were two; both causes are gone, nothing is filtered.
  assert [line for line in result.stderr.splitlines()
          if re.match(r"[IWEF]\d{4} ", line)] == []

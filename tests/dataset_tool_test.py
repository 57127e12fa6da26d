"""`python -m tools.dataset_tool` as a user runs it: create, info, display, compare, bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import requires_debian_fashion_mnist
from conftest import requires_emoji_data
from keras_gen.data import tfrecords

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool(*args, as_module=True):
  command = ([sys.executable, "-m", "tools.dataset_tool"] if as_module
             else [sys.executable, os.path.join(REPO, "tools", "dataset_tool.py")])
  return subprocess.run(command + [str(a) for a in args], cwd=REPO, capture_output=True,
                        text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def _write_png(path, image):
  tf.io.write_file(str(path), tf.io.encode_png(image))


def test_a_folder_of_images_becomes_every_level_and_info_display_and_compare_describe_it(
    tmp_path):
  folder = tmp_path / "images"
  folder.mkdir()
  rng = np.random.default_rng(0)
  for index in range(5):  # 12x10 RGB: centre-cropped to 10x10, resized to 8x8.
    _write_png(folder / f"{index}.png", rng.integers(0, 256, (12, 10, 3), dtype=np.uint8))
  created = _tool("create_from_images", tmp_path / "ds", folder, "--resolution=8",
                  as_module=False)
  assert created.returncode == 0, created.stderr
  assert "Wrote 5 images at 2 levels (4x4 to 8x8)" in created.stdout
  info = _tool("info", tmp_path / "ds")
  assert "r02      4x4             5 images" in info.stdout, info.stdout
  shown = _tool("display", tmp_path / "ds", "--output", tmp_path / "grid.png", "--level=2")
  assert shown.returncode == 0, shown.stderr
  # 5 tiles of 4x4 in a 3-column grid.
  assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "grid.png"))).shape == (8, 12, 3)
  # The same folder written again is identical; another seed reorders every image.
  _tool("create_from_images", tmp_path / "again", folder, "--resolution=8")
  _tool("create_from_images", tmp_path / "other", folder, "--resolution=8", "--seed=1")
  same, different = (_tool("compare", tmp_path / "ds", tmp_path / "again"),
                     _tool("compare", tmp_path / "ds", tmp_path / "other"))
  assert same.returncode == 0 and "5/5 images identical" in same.stdout, same.stdout
  assert different.returncode == 1 and "Different." in different.stdout


@pytest.mark.parametrize("setup,flags,message", [
    ("empty", ["--resolution=8"], "contains no image files"),
    ("corrupt", ["--resolution=8"], "broken.png could not be decoded"),
    ("ok", ["--resolution=12"], "--resolution=12 must be a power of two"),
])
def test_bad_image_folders_exit_2_naming_the_problem_and_leave_nothing(tmp_path, setup, flags,
                                                                       message):
  folder = tmp_path / "images"
  folder.mkdir()
  if setup != "empty":
    _write_png(folder / "a.png", np.zeros([8, 8, 1], np.uint8))
  if setup == "corrupt":
    (folder / "broken.png").write_bytes(b"not a png")
  result = _tool("create_from_images", tmp_path / "ds", folder, *flags)
  assert result.returncode == 2
  # TensorFlow's C++ start-up lines may precede it; the tool's own error is one line.
  errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
  assert len(errors) == 1 and message in errors[0], result.stderr
  assert sorted(os.listdir(tmp_path)) == ["images"]


def test_npz_of_28x28_images_needs_padding_and_pads_with_zeros_to_32(tmp_path):
  images = np.full([4, 28, 28], 200, np.uint8)
  np.savez(tmp_path / "small.npz", images=images, labels=np.arange(4))
  refused = _tool("create_from_npz", tmp_path / "ds", tmp_path / "small.npz")
  assert refused.returncode == 2 and "28x28 images, not a power-of-two square" in refused.stderr
  assert not os.path.exists(tmp_path / "ds")
  padded = _tool("create_from_npz", tmp_path / "ds", tmp_path / "small.npz", "--pad_to=32")
  assert padded.returncode == 0, padded.stderr
  top, labels = tfrecords.read_level(str(tmp_path / "ds"), 5)
  assert top.shape == (4, 32, 32, 1) and sorted(labels) == [0, 1, 2, 3]
  assert top[:, 2:30, 2:30].min() == 200 and top[:, :2].max() == 0 and top[:, :, 30:].max() == 0
  four, _ = tfrecords.read_level(str(tmp_path / "ds"), 2)
  # 4x4 pixel (0, 0) averages an 8x8 block with 6x6 of it image: 200 * 36 / 64 = 112.5 -> 112.
  assert four[0, 0, 0, 0] == 112 and four[0, 1, 1, 0] == 200


@requires_emoji_data
def test_emoji_become_an_rgb_dataset_whose_files_are_the_same_bytes_every_time(tmp_path):
  for parent in ("a", "b"):
    created = _tool("create_from_emoji", tmp_path / parent / "emoji", "--max_glyphs=16",
                    "--resolution=16")
    assert created.returncode == 0, created.stderr
    assert "Read 16 of the" in created.stdout and "0 rendered empty" in created.stdout
  names = sorted(os.listdir(tmp_path / "a" / "emoji"))
  assert names == ["dataset.json"] + [f"emoji-r0{level}.tfrecords" for level in (2, 3, 4)]
  for name in names:
    assert ((tmp_path / "a" / "emoji" / name).read_bytes() ==
            (tmp_path / "b" / "emoji" / name).read_bytes()), name
  images, labels = tfrecords.read_level(str(tmp_path / "a" / "emoji"), 4)
  # The first 16 glyphs: keycap bases # * 0-9, which no listed emoji is, then (c) (r) !! ?!,
  # in the group Symbols (8).
  assert images.shape == (16, 16, 16, 3) and sorted(labels) == [-1] * 12 + [8] * 4
  assert images[:, 0, 0].tolist() == [[255, 255, 255]] * 16  # Every corner is background.
  info = _tool("info", tmp_path / "a" / "emoji")
  assert "3 channel(s), labels: True" in info.stdout, info.stdout
  assert "domain:" not in info.stdout  # The emoji classifier takes 64x64 images.
  assert "(Noto Color Emoji, Version 2." in info.stdout
  assert "the font says: This Font Software is licensed under the SIL Open Font" in info.stdout


@requires_emoji_data
def test_64x64_emoji_record_the_emoji_domain_and_a_missing_emoji_list_names_its_package(
    tmp_path):
  created = _tool("create_from_emoji", tmp_path / "emoji", "--max_glyphs=4")
  assert created.returncode == 0, created.stderr
  assert tfrecords.read_metadata(str(tmp_path / "emoji"))["domain"] == "emoji"

  missing = _tool("create_from_emoji", tmp_path / "none", f"--emoji_test={tmp_path / 'x.txt'}")
  assert missing.returncode == 2 and "apt-get install unicode-data" in missing.stderr
  assert not os.path.exists(tmp_path / "none")


def test_a_missing_emoji_font_exits_2_naming_the_debian_package_and_leaves_nothing(tmp_path):
  result = _tool("create_from_emoji", tmp_path / "ds", f"--font={tmp_path / 'missing.ttf'}")
  assert result.returncode == 2
  errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
  assert len(errors) == 1 and "apt-get install fonts-noto-color-emoji" in errors[0], result.stderr
  assert os.listdir(tmp_path) == []


@requires_debian_fashion_mnist
def test_debians_fashion_mnist_records_its_domain_unless_resampled_and_domain_overrides(
    real_fashion_mnist_idx, tmp_path, monkeypatch, capsys):
  from keras_gen import data
  from keras_gen.data import sources
  from tools import dataset_tool

  def create(name, *flags):
    assert dataset_tool.main(["create_from_idx", str(tmp_path / name), real_fashion_mnist_idx,
                              *flags]) == 0
    return f"progan:{tmp_path / name}"

  elsewhere = create("elsewhere", "--pad_to=32")  # Not Debian's folder: no domain to infer.
  monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", real_fashion_mnist_idx)
  padded, resized = create("padded", "--pad_to=32"), create("resized", "--resolution=64")
  named = create("named", "--resolution=64", "--domain=mnist")
  assert data.domain(padded) == "fashion_mnist"
  assert [data.domain(name) for name in (elsewhere, resized, named)] == [
      elsewhere, resized, "mnist"]
  assert data.domain("fashion_mnist") == "fashion_mnist"
  capsys.readouterr()
  dataset_tool.main(["info", str(tmp_path / "padded")])
  assert "domain: fashion_mnist (FCD uses its domain classifier)" in capsys.readouterr().out

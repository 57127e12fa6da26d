"""`storage.check_writable`: one sentence naming the folder that cannot be written, and no
trace of the check."""

import os

import pytest

from keras_gen import storage


def test_a_writable_folder_that_does_not_exist_yet_passes_and_is_not_made(tmp_path):
  storage.check_writable(str(tmp_path / "run" / "eval"), "pass --output=PATH")
  assert os.listdir(tmp_path) == []


def test_a_folder_that_cannot_hold_files_is_named_with_the_systems_reason():
  with pytest.raises(storage.StorageError) as error:
    storage.check_writable("/proc/self/generated", "pass --output_dir=FOLDER")
  assert str(error.value) == ("/proc/self/generated cannot be created: /proc/self is not writable "
                              "(No such file or directory); pass --output_dir=FOLDER.")


def test_a_file_in_the_way_is_named(tmp_path):
  (tmp_path / "eval").write_text("a file")
  with pytest.raises(storage.StorageError) as error:
    storage.check_writable(str(tmp_path / "eval" / "deeper"), "pass --output=PATH")
  assert str(error.value) == (f"{tmp_path}/eval/deeper cannot be created: {tmp_path}/eval is a "
                              f"file, not a folder; pass --output=PATH.")
  assert os.listdir(tmp_path) == ["eval"]

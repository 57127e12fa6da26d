"""tools/plot_curves.py: metric curves read back from TensorBoard events and drawn."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import plot_curves  # noqa: E402


def _log(model_dir, values, tag="metrics/fcd/fcd"):
  writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))
  with writer.as_default():
    for step, value in values:
      tf.summary.scalar(tag, value, step=step)
  writer.close()


def test_read_scalars_returns_every_logged_value_by_step(tmp_path):
  _log(str(tmp_path), [(2000, 3.5), (1000, 9.25), (3000, 1.125)])

  points = plot_curves.read_scalars(str(tmp_path), "metrics/fcd/fcd")

  assert [step for step, _, _ in points] == [1000, 2000, 3000]
  assert [value for _, _, value in points] == [9.25, 3.5, 1.125]
  assert all(minutes >= 0 for _, minutes, _ in points)


def test_a_missing_tag_is_a_sentence_naming_the_folder_and_tag(tmp_path):
  _log(str(tmp_path), [(1, 1.0)])

  try:
    plot_curves.read_scalars(str(tmp_path), "metrics/swd/swd_x1e3_avg")
  except ValueError as e:
    assert str(tmp_path) in str(e) and "metrics/swd/swd_x1e3_avg" in str(e)
  else:
    raise AssertionError("no error")


def test_draw_puts_each_curve_in_its_own_colour_inside_the_axes():
  image = plot_curves.draw({"a": [(0, 4.0), (10, 1.0)], "b": [(0, 2.0), (10, 3.0)]},
                           "minutes", "fcd", floor=0.4)

  pixels = np.asarray(image)
  assert pixels.shape == (plot_curves.HEIGHT, plot_curves.WIDTH, 3)
  for colour in plot_curves.COLOURS[:2]:
    assert np.all(pixels == colour, axis=-1).sum() > 100


def test_the_command_writes_a_png_and_exits_2_for_a_folder_without_events(tmp_path):
  _log(str(tmp_path / "run"), [(1, 2.0), (2, 1.0)])
  output = tmp_path / "curve.png"
  command = [sys.executable, os.path.join(REPO, "tools", "plot_curves.py")]

  ok = subprocess.run(command + [f"--runs={tmp_path / 'run'}", f"--output={output}"],
                      capture_output=True, text=True, check=False)
  empty = subprocess.run(command + [f"--runs={tmp_path}/none", f"--output={output}.2"],
                         capture_output=True, text=True, check=False)

  assert ok.returncode == 0, ok.stderr
  assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert empty.returncode == 2 and "holds no TensorBoard event files" in empty.stderr

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


def test_a_phased_runs_level_starts_are_the_last_steps_logged_below_each_new_level(tmp_path):
  # Logged at log_every and at every phase end: 4x4 ends at step 2, the 8x8 phases at 6.
  _log(str(tmp_path), [(1, 2.0), (2, 2.0), (4, 3.0), (6, 3.0), (8, 4.0), (9, 4.0)],
       tag="progress/level")

  starts = plot_curves.level_starts(str(tmp_path))

  assert [(step, side) for step, _, side in starts] == [(2, 8), (6, 16)]


def test_levels_and_two_tags_draw_markers_and_a_curve_per_tag(tmp_path):
  run = str(tmp_path / "run")
  _log(run, [(2, 2.0), (6, 3.0), (8, 4.0)], tag="progress/level")
  _log(run, [(6, 90.0), (8, 60.0)], tag="metrics/swd/swd_x1e3_avg")
  _log(run, [(2, 120.0), (6, 80.0), (8, 50.0)], tag="metrics/swd/swd_x1e3_8")
  output = tmp_path / "levels.png"

  result = subprocess.run(
      [sys.executable, os.path.join(REPO, "tools", "plot_curves.py"), f"--runs=progan={run}",
       "--tag=metrics/swd/swd_x1e3_avg,metrics/swd/swd_x1e3_8", "--x=step", "--levels",
       f"--output={output}"], capture_output=True, text=True, check=False)

  assert result.returncode == 0, result.stderr
  assert "progan swd_x1e3_avg: 6 -> 90, 8 -> 60" in result.stdout
  assert "progan swd_x1e3_8: 2 -> 120, 6 -> 80, 8 -> 50" in result.stdout
  pixels = np.asarray(tf.io.decode_png(tf.io.read_file(str(output))))
  marker = np.all(pixels == plot_curves.MARKER_COLOUR, axis=-1)
  # Two dotted lines (8x8 from step 2, 16x16 from step 6), each in its own pixel column(s).
  columns = np.flatnonzero(marker[plot_curves.TOP + 40:plot_curves.HEIGHT - plot_curves.BOTTOM]
                           .sum(axis=0) > 50)
  assert len(columns) >= 2 and columns.max() - columns.min() > 100


def test_a_level_start_is_placed_at_the_last_summary_of_its_step_in_minutes(tmp_path):
  # The phase end at step 2 logs its level at t = 60 s and its metrics at t = 180 s.
  # Event files are TFRecord files of Event protos.
  with tf.io.TFRecordWriter(str(tmp_path / "events.out.tfevents.1")) as writer:
    for step, wall_time, tag, value in [(1, 0.0, "progress/level", 2.0),
                                        (2, 60.0, "progress/level", 2.0),
                                        (2, 180.0, "metrics/swd/swd_x1e3_avg", 9.0),
                                        (4, 240.0, "progress/level", 3.0)]:
      summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag=tag,
                                                                       simple_value=value)])
      writer.write(tf.compat.v1.Event(wall_time=wall_time, step=step,
                                      summary=summary).SerializeToString())

  assert plot_curves.level_starts(str(tmp_path)) == [(2, 3.0, 8)]


def test_a_recipe_curve_draws_the_floor_and_the_title_its_measured_block_records():
  curve = plot_curves.recipe_curve("dcgan_fashion_mnist_long")

  image, texts = plot_curves.draw_labelled({curve["metric"]: curve["points"]}, "step",
                                           curve["title"], curve["floor"], curve["floor_label"],
                                           markers=curve["phases"])

  assert curve["points"][:2] == [(4000, 3.632), (8000, 1.165)] and len(curve["points"]) == 14
  assert texts["floor"] == "real-vs-real (5,000 samples) 0.383"
  assert texts["title"] == (
      "dcgan_fashion_mnist_long: FCD by step\nIntel(R) Xeon(R) Processor, 2 cores (avx2 avx512f "
      "avx512_bf16 avx512_vnni amx_tile amx_bf16 amx_int8), 2026-12-02")
  floor_pixels = np.all(np.asarray(image) == plot_curves.FLOOR_COLOUR, axis=-1)
  assert floor_pixels.sum(axis=1).max() > 300  # A dashed line across the plot.


def test_a_phased_recipe_curve_labels_each_phase_end_with_its_swd_floor():
  curve = plot_curves.recipe_curve("progan_emoji")

  _, texts = plot_curves.draw_labelled({curve["metric"]: curve["points"]}, "step",
                                       curve["title"], curve["floor"], curve["floor_label"],
                                       markers=curve["phases"])

  assert curve["points"][-1] == (15625, 21.6)
  assert texts["floor"] == "real-vs-real (1,024 samples) 10.28"
  assert texts["markers"][:3] == ["8x8 fade-in end", "8x8 stable end", "16x16 fade-in end"]
  assert texts["title"].endswith(
      "AMD EPYC, 2 cores (avx2 avx512f avx512_bf16 avx512_vnni), 2026-12-06")

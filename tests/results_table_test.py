"""tools/results_table.py: the tables come from the recipes' measured blocks, and --check holds them to it."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import results_table  # noqa: E402

MARKED_README = ("top\n<!-- results-table:start -->\n<!-- results-table:end -->\n"
                 "<!-- pretrained-table:start -->\n<!-- pretrained-table:end -->\nbottom\n")


def _write_zoo(root):
  zoo = root / "zoo"
  (zoo / "classifiers").mkdir(parents=True)
  (root / "runs").mkdir()
  (root / "runs" / "eval.json").write_text(json.dumps(
      {"metrics": {"fcd": {"fcd": 41.234, "fcd_real_baseline": 0.5167, "seconds": 3.0},
                   "swd": {"swd_x1e3_avg": 12.5}}}))
  (zoo / "dcgan_x.json").write_text(json.dumps(
      {"command": "c", "measured": {"steps": 3000, "train_wall_time_seconds": 185.2,
                                    "machine": "2-core CPU", "results": "runs/eval.json",
                                    "date": "2026-12-01",
                                    "samples": "docs/samples/dcgan_x.png"}}))
  (zoo / "vae_x.json").write_text(json.dumps({"command": "c", "measured": None}))
  (zoo / "classifiers" / "clf_x.json").write_text(json.dumps(
      {"command": "c", "measured": {"test_accuracy": 0.8953, "wall_time": "3m", "steps": 1407,
                                    "final_training_losses": {"mse": 9.0}}}))
  return zoo


def _command(zoo, readme, gallery):
  return [sys.executable, os.path.join(REPO, "tools", "results_table.py"), f"--zoo={zoo}",
          f"--readme={readme}", f"--gallery={gallery}"]


def test_table_has_a_row_per_recipe_with_figures_protocol_floor_wall_time_machine_and_date(
    tmp_path):
  table = results_table.table(str(_write_zoo(tmp_path)), str(tmp_path))
  (dcgan,) = [line for line in table.splitlines() if "dcgan_x" in line]
  assert dcgan == ("| [dcgan_x](zoo/dcgan_x.json) | FCD 41.23, SWD x1e3 12.5 | see recipe | "
                   "FCD 0.5167 | 3m05s | M1 | 2026-12-01 |")
  assert "- M1: 2-core CPU\n" in table
  (classifier,) = [line for line in table.splitlines() if "clf_x" in line]
  assert "test accuracy 0.8953" in classifier and "MSE" not in classifier
  assert "| [vae_x](zoo/vae_x.json) | not run | | | | | |" in table


def test_the_protocol_is_read_from_the_evaluation_command_with_evaluates_defaults():
  measured = {"fcd": 1.0, "evaluation": {
      "command": "python -m keras_gen.evaluate --saved_model=x --metrics=fcd --num_samples=2048"}}
  assert results_table.protocol(measured) == "2,048 samples, test, seed 0"
  measured["evaluation"]["command"] = "python -m keras_gen.evaluate --saved_model=x --metrics=fcd"
  assert results_table.protocol(measured) == "5,000 samples, test, seed 0"


def test_a_machine_recorded_by_the_tools_is_named_with_its_matmul_rate_and_load():
  described = {"cpu": "AMD EPYC", "cores": 2, "cpu_flags": ["avx512f", "avx512_bf16"],
               "no_amx": True, "python": "3.11.7", "tensorflow": "2.21.0",
               "other_load_cores": 0.02}
  measured = {"machine": described,
              "machine_note": "float32 2048x2048 matmul 137-139 GFLOP/s on this CPU type"}
  assert results_table.machine_text(measured) == (
      "AMD EPYC, 2 cores (avx512f, avx512_bf16; no AMX), TensorFlow 2.21.0; "
      "float32 matmul 137-139 GFLOP/s; idle")


def test_a_shipped_model_whose_manifest_used_another_protocol_is_marked_as_differing(tmp_path):
  zoo = tmp_path / "zoo"
  (zoo / "pretrained" / "gan_x").mkdir(parents=True)
  (zoo / "gan_x.json").write_text(json.dumps({"config": {}, "measured": {
      "fcd": 8.46, "date": "2026-12-03", "wall_time_s": 2830,
      "evaluation": {"command": "python -m keras_gen.evaluate --num_samples=10000"}}}))
  (zoo / "pretrained" / "gan_x" / "manifest.json").write_text(json.dumps({
      "recipe": "gan_x", "training_runs": [{"started": "2026-12-03T11:42", "wall_seconds": 2829.9}],
      "evaluation": {"metrics": {"fcd": {"fcd": 10.25, "num_samples": 2048}}, "split": "test",
                     "seed": 0}}))

  (row,) = results_table.pretrained_table(str(zoo), str(tmp_path)).splitlines()[2:]

  assert row == ("| `gan_x` | FCD 10.25 | 2,048 samples, test, seed 0 | differs in FCD: other "
                 "protocol (table: 10,000 samples, test, seed 0) |")


def test_check_fails_when_a_recipes_measured_figure_and_the_table_disagree(tmp_path):
  zoo = _write_zoo(tmp_path)
  readme, gallery = tmp_path / "README.md", tmp_path / "gallery.md"
  readme.write_text(MARKED_README)
  gallery.write_text("<!-- gallery:start -->\n<!-- gallery:end -->\n")
  command = _command(zoo, readme, gallery)
  assert subprocess.run(command, capture_output=True).returncode == 0
  assert "FCD 41.23" in readme.read_text() and "dcgan_x.png" in gallery.read_text()
  assert subprocess.run(command + ["--check"], capture_output=True).returncode == 0

  (tmp_path / "runs" / "eval.json").write_text(json.dumps({"metrics": {"fcd": {"fcd": 40.0}}}))
  before = readme.read_text()
  result = subprocess.run(command + ["--check"], capture_output=True, text=True)

  assert result.returncode == 1
  assert "differ from the recipes' measured figures" in result.stderr
  assert readme.read_text() == before


def test_a_file_without_its_markers_is_named_and_nothing_is_written(tmp_path):
  zoo = _write_zoo(tmp_path)
  readme, gallery = tmp_path / "README.md", tmp_path / "gallery.md"
  readme.write_text(MARKED_README)
  gallery.write_text("no markers\n")

  result = subprocess.run(_command(zoo, readme, gallery), capture_output=True, text=True)

  assert result.returncode == 2
  assert "has no <!-- gallery:start --> ... <!-- gallery:end --> markers" in result.stderr
  assert readme.read_text() == MARKED_README


def test_the_repositorys_tables_are_current():
  result = subprocess.run([sys.executable, os.path.join(REPO, "tools", "results_table.py"),
                           "--check"], capture_output=True, text=True)
  assert result.returncode == 0, result.stderr

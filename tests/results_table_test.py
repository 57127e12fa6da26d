"""tools/results_table.py: the README table comes from the recipes' measured fields."""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import results_table  # noqa: E402


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
                                    "samples": "docs/samples/dcgan_x.png"}}))
  (zoo / "vae_x.json").write_text(json.dumps({"command": "c", "measured": None}))
  (zoo / "classifiers" / "clf_x.json").write_text(json.dumps(
      {"command": "c", "measured": {"test_accuracy": 0.8953, "wall_time": "3m", "steps": 1407,
                                    "final_training_losses": {"mse": 9.0}}}))
  return zoo


def test_table_has_a_row_per_recipe_with_the_figures_a_run_recorded(tmp_path):
  table = results_table.table(str(_write_zoo(tmp_path)), str(tmp_path))
  lines = table.splitlines()
  assert len(lines) == 2 + 3
  (dcgan,) = [line for line in lines if "dcgan_x" in line]
  assert "FCD 41.23 (real 0.5167), SWD x1e3 12.5" in dcgan
  assert "| 3,000 | 3m05s | 2-core CPU | [grid](docs/samples/dcgan_x.png) |" in dcgan
  (classifier,) = [line for line in lines if "clf_x" in line]
  assert "test accuracy 0.8953" in classifier and "MSE" not in classifier
  assert "| [vae_x](zoo/vae_x.json) | not run yet |" in table


def test_a_machine_recorded_by_the_tools_is_named_with_its_load(tmp_path):
  described = {"cpu": "AMD EPYC", "cores": 2, "cpu_flags": ["avx512f", "avx512_bf16"],
               "no_amx": True, "python": "3.11.7", "tensorflow": "2.21.0",
               "other_load_cores": 0.02}
  zoo = tmp_path / "zoo"
  zoo.mkdir()
  (zoo / "gan_x.json").write_text(json.dumps({"measured": {"fcd": 20.0, "machine": described}}))

  (row,) = [line for line in results_table.table(str(zoo), str(tmp_path)).splitlines()
            if "gan_x" in line]

  assert ("| AMD EPYC, 2 cores (avx512f, avx512_bf16; no AMX), Python 3.11.7, TensorFlow "
          "2.21.0; idle (other processes used 0.02 cores on average) |") in row


def test_only_the_text_between_the_markers_is_replaced():
  text = ("# Title\nintro\n<!-- results-table:start -->\nold table\n"
          "<!-- results-table:end -->\nrest\n")
  updated = results_table.replace_between_markers(text, "| new |\n")
  assert updated == ("# Title\nintro\n<!-- results-table:start -->\n| new |\n"
                     "<!-- results-table:end -->\nrest\n")
  assert results_table.replace_between_markers("no markers", "| new |\n") is None


def test_tool_updates_the_readme_then_check_passes_and_without_markers_prints(tmp_path):
  zoo = _write_zoo(tmp_path)
  readme = tmp_path / "README.md"
  readme.write_text("top\n<!-- results-table:start -->\n<!-- results-table:end -->\nbottom\n")
  command = [sys.executable, os.path.join(REPO, "tools", "results_table.py"), f"--zoo={zoo}",
             f"--readme={readme}"]
  assert subprocess.run(command + ["--check"], capture_output=True).returncode == 1
  assert subprocess.run(command, capture_output=True).returncode == 0
  assert "FCD 41.23" in readme.read_text() and readme.read_text().endswith("bottom\n")
  assert subprocess.run(command + ["--check"], capture_output=True).returncode == 0
  readme.write_text("no markers\n")
  result = subprocess.run(command, capture_output=True, text=True)
  assert result.returncode == 0 and "FCD 41.23" in result.stdout
  assert "has no <!-- results-table:start -->" in result.stderr
  assert readme.read_text() == "no markers\n"

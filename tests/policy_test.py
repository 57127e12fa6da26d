"""keras_gen.bench.policy: the cases a benchmark records for --xla=auto and
--mixed_precision=auto, and the engine following them."""

import json

import pytest

from keras_gen import config as config_lib
from keras_gen.bench import policy
from keras_gen.engine import strategies

MACHINE = {"cpu": "Test CPU", "cpu_flags": ["avx2", "avx512f", "avx512_bf16"],
           "tensorflow": "2.21.0"}


def _results(other_load_cores=0.0):
  def mode(precision, xla, seconds):
    return {"precision": precision, "xla": xla, "step_seconds": seconds}
  return {"machine": MACHINE, "model": "dcgan", "batch_size": 32,
          "other_load_cores": other_load_cores,
          "modes": {"float32": mode("none", False, 0.0900), "float32 + XLA":
                    mode("none", True, 0.0951), "mixed_bfloat16": mode("mixed_bfloat16", False,
                                                                       0.0702),
                    "mixed_bfloat16 + XLA": mode("mixed_bfloat16", True, 0.0650)}}


def test_a_benchmark_gives_an_xla_case_per_precision_and_a_precision_case():
  cases = policy.cases_from(_results(), "dcgan_fashion_mnist", "python tools/benchmark.py",
                            "2026-12-06")
  about = {"recipe": "dcgan_fashion_mnist", "model": "dcgan", "cpu": "Test CPU",
           "cpu_signature": None,
           "cpu_flags": MACHINE["cpu_flags"],
           "tensorflow": "2.21.0", "date": "2026-12-06", "command": "python tools/benchmark.py"}
  assert cases == [
      dict(choice="xla", faster="off", step_ms={"off": 90.0, "on": 95.1},
           setting="float32, batch 32", **about),
      dict(choice="xla", faster="on", step_ms={"off": 70.2, "on": 65.0},
           setting="mixed_bfloat16, batch 32", **about),
      dict(choice="precision", faster="mixed_bfloat16",
           step_ms={"none": 90.0, "mixed_bfloat16": 70.2}, setting="no XLA, batch 32", **about),
  ]


def test_recorded_cases_are_what_auto_follows(tmp_path, monkeypatch):
  table = tmp_path / "measured_policy.json"
  table.write_text(json.dumps({"about": "test", "cases": []}))
  results = _results()
  del results["modes"]["mixed_bfloat16 + XLA"]  # One XLA case, float32's: off.
  policy.record(policy.cases_from(results, "dcgan", "cmd", "2026-12-06"), results, str(table))
  monkeypatch.setattr(strategies, "MEASURED_POLICY", str(table))
  assert json.loads(table.read_text())["about"] == "test"
  assert strategies.measured_choice("xla", MACHINE["cpu_flags"])[0] == "off"
  assert strategies.measured_choice("precision", MACHINE["cpu_flags"])[0] == "mixed_bfloat16"
  assert strategies.measured_choice("xla", ["avx2"]) == (None, None)  # Another class.


def test_timings_from_a_busy_machine_are_not_recorded(tmp_path):
  table = tmp_path / "measured_policy.json"
  table.write_text(json.dumps({"cases": []}))
  results = _results(other_load_cores=0.8)
  with pytest.raises(config_lib.ConfigError, match="other processes used 0.8 cores"):
    policy.record(policy.cases_from(results, "dcgan", "cmd", "2026-12-06"), results, str(table))
  assert json.loads(table.read_text()) == {"cases": []}


def test_every_shipped_case_names_its_machine_date_and_command():
  with open(strategies.MEASURED_POLICY) as f:
    cases = json.load(f)["cases"]
  for case in cases:
    assert case["choice"] in ("xla", "precision") and case["faster"] in case["step_ms"]
    assert min(case["step_ms"], key=case["step_ms"].get) == case["faster"]
    assert case["cpu"] and case["cpu_flags"] and case["tensorflow"] and case["date"]
    assert case["command"].startswith("python tools/benchmark.py --recipe=")

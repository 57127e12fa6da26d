"""The benchmark's arithmetic; its speeds are printed by tools/benchmark.py, never asserted."""

from keras_gen.engine import benchmark


def test_matmul_rate_is_a_positive_number_of_gflops():
  assert benchmark.matmul_gflops(size=64, repeats=2) > 0


def test_measure_reports_every_mode_the_executed_flops_the_ops_and_the_machine(tiny_config):
  modes = (benchmark.Mode("none", False), benchmark.Mode("mixed_bfloat16", True))
  results = benchmark.measure(tiny_config("autoencoder"), steps=3, modes=modes, ops=True,
                              matmul_size=128)

  assert list(results["modes"]) == ["float32", "mixed_bfloat16 + XLA"]
  assert 0 < results["flops_per_step"] <= results["profiler_flops_per_step"]
  assert results["flops_per_step"] == sum(row["flops"] for row in results["ops"]["rows"])
  for mode in results["modes"].values():
    assert mode["images_per_sec"] > 0 and mode["fraction_of_matmul"] > 0
  assert results["fastest"] in results["modes"]
  assert results["machine"]["cpu"] and results["input_headroom"] > 0
  report = benchmark.format_report(results)
  assert "executed" in report and "op by op" in report and results["machine"]["cpu"] in report

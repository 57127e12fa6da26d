"""The benchmark's arithmetic; its speeds are printed by tools/benchmark.py, never asserted."""

import tensorflow as tf

from keras_gen.engine import benchmark


def test_graph_flops_counts_two_flops_per_multiply_add_of_a_matmul():
  function = tf.function(lambda a, b: tf.matmul(a, b)).get_concrete_function(
      tf.TensorSpec([8, 16]), tf.TensorSpec([16, 4]))
  assert benchmark.graph_flops(function) == 2 * 8 * 16 * 4


def test_matmul_rate_is_a_positive_number_of_gflops():
  assert benchmark.matmul_gflops(size=64, repeats=2) > 0


def test_measure_reports_speeds_flops_and_input_headroom(tiny_config):
  results = benchmark.measure(tiny_config("autoencoder"), steps=2)
  assert results["flops_per_step"] > 0
  for key in ("no_xla_images_per_sec", "xla_images_per_sec", "input_images_per_sec",
              "no_xla_fraction_of_matmul", "input_headroom"):
    assert results[key] > 0, key
  assert "matmul" in benchmark.format_report(results)

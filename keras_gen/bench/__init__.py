"""Benchmarks and the op profiler, used by tools/benchmark.py and never by training."""

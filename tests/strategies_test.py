"""keras_gen.engine.strategies: which precision a run gets, 'auto' resolved per device."""

import pytest
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen.engine import strategies


@pytest.fixture
def cpu(monkeypatch):
  """Sets whether the CPU has native bfloat16 and hides any GPU."""

  def make(native_bfloat16):
    monkeypatch.setattr(strategies.machine, "has_native_bfloat16", lambda: native_bfloat16)
    monkeypatch.setattr(strategies.machine, "describe",
                        lambda: {"cpu": "Test CPU", "cpu_flags": ["avx2", "avx512f"]})
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [] if kind == "GPU" else ["cpu"])
  return make


def _config(**values):
  return config_lib.TrainConfig(model_dir="unused", **values)


def test_auto_is_bfloat16_on_a_cpu_with_native_bfloat16(cpu):
  cpu(native_bfloat16=True)
  precision, note, is_warning = strategies.choose_precision(_config(mixed_precision="auto"))
  assert precision == "mixed_bfloat16"
  assert note == "Precision auto: mixed_bfloat16 (Test CPU has native bfloat16)."
  assert not is_warning


def test_auto_is_float32_on_a_cpu_that_would_emulate_bfloat16(cpu):
  cpu(native_bfloat16=False)
  precision, note, is_warning = strategies.choose_precision(_config(mixed_precision="auto"))
  assert precision == "none"
  assert note == ("Precision auto: float32 (Test CPU has no native bfloat16, AVX-512 BF16 or "
                  "AMX, so bfloat16 would be emulated).")
  assert not is_warning


def test_auto_suggests_xla_on_a_cpu_without_avx512(cpu, monkeypatch):
  cpu(native_bfloat16=False)
  monkeypatch.setattr(strategies.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": ["avx2"]})
  _, note, _ = strategies.choose_precision(_config(mixed_precision="auto"))
  assert note.endswith("Without AVX-512, --xla may be faster: it ran the DCGAN recipes' steps "
                       "1.5x faster on a 2-core AVX2 AMD EPYC (tools/benchmark.py times both "
                       "here).")
  _, note, _ = strategies.choose_precision(_config(mixed_precision="auto", xla=True))
  assert "--xla" not in note


def test_auto_is_bfloat16_on_a_tpu_whatever_the_host(cpu):
  cpu(native_bfloat16=False)
  config = _config(mixed_precision="auto", strategy="tpu", tpu="local")
  assert strategies.choose_precision(config).precision == "mixed_bfloat16"


def test_auto_is_float32_on_a_gpu(cpu, monkeypatch):
  cpu(native_bfloat16=True)
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: ["gpu"] if kind == "GPU" else ["cpu"])
  assert strategies.choose_precision(_config(mixed_precision="auto")).precision == "none"


def test_emulated_bfloat16_without_xla_is_kept_with_a_warning(cpu):
  cpu(native_bfloat16=False)
  config = _config(mixed_precision="mixed_bfloat16")
  precision, note, is_warning = strategies.choose_precision(config)
  assert precision == "mixed_bfloat16"
  assert note.startswith("Warning: --mixed_precision=mixed_bfloat16 on Test CPU, which has no "
                         "native bfloat16")
  assert is_warning


@pytest.mark.parametrize("native_bfloat16,xla,precision", [
    (True, False, "mixed_bfloat16"), (False, True, "mixed_bfloat16"), (False, False, "none"),
    (False, False, "mixed_float16")])
def test_an_explicit_precision_is_kept_silently_where_it_is_not_emulated(
    cpu, native_bfloat16, xla, precision):
  cpu(native_bfloat16=native_bfloat16)
  config = _config(mixed_precision=precision, xla=xla)
  assert strategies.choose_precision(config) == strategies.PrecisionChoice(precision, "", False)


def test_xla_on_an_avx512_cpu_is_named_as_the_slower_path_measured(cpu):
  cpu(native_bfloat16=True)  # The fixture's CPU has avx512f.
  xla, note = strategies.choose_xla(_config(xla=True))
  assert xla is True
  assert note.startswith("--xla on Test CPU, which has AVX-512: on the AVX-512 CPUs measured XLA "
                         "ran the DCGAN and WGAN-GP steps 2-22% slower")
  assert strategies.choose_xla(_config(xla=False)) == strategies.XlaChoice(False, "")


def test_xla_on_an_avx2_cpu_or_a_tpu_is_kept_without_a_note(cpu, monkeypatch):
  cpu(native_bfloat16=False)
  assert strategies.choose_xla(_config(xla=True, strategy="tpu", tpu="local")) == (
      strategies.XlaChoice(True, ""))
  monkeypatch.setattr(strategies.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": ["avx2"]})
  assert strategies.choose_xla(_config(xla=True)) == strategies.XlaChoice(True, "")


def test_xla_auto_compiles_on_a_cpu_without_avx512(cpu, monkeypatch):
  cpu(native_bfloat16=False)
  monkeypatch.setattr(strategies.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": ["avx2"]})
  assert strategies.choose_xla(_config(xla="auto")) == strategies.XlaChoice(
      True, "XLA auto: on (Test CPU has no AVX-512; on an AVX2 CPU XLA ran the DCGAN, WGAN-GP "
            "and Progressive GAN steps 1.2-1.85x faster).")


def test_xla_auto_does_not_compile_on_a_cpu_with_avx512(cpu):
  cpu(native_bfloat16=True)  # The fixture's CPU has avx512f.
  assert strategies.choose_xla(_config(xla="auto")) == strategies.XlaChoice(
      False, "XLA auto: off (Test CPU has AVX-512, where XLA ran the DCGAN and WGAN-GP steps "
             "2-22% slower; tools/benchmark.py times both here).")


@pytest.mark.parametrize("strategy,tpu,gpus,reason", [
    ("tpu", "local", [], "TPUStrategy compiles every step"),
    ("mirrored", "", [], "only with one replica"),
    ("default", "", ["gpu"], "on the GPU (not measured there"),
])
def test_xla_auto_does_not_compile_for_a_tpu_several_replicas_or_a_gpu(
    cpu, monkeypatch, strategy, tpu, gpus, reason):
  cpu(native_bfloat16=False)
  monkeypatch.setattr(strategies.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": ["avx2"]})
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: gpus if kind == "GPU" else ["cpu"])
  xla, note = strategies.choose_xla(_config(xla="auto", strategy=strategy, tpu=tpu))
  assert xla is False
  assert note.startswith("XLA auto: off") and reason in note

"""keras_gen.engine.strategies: which precision and XLA mode a run gets, 'auto' resolved from
the measured cases of the CPU's class."""

import json

import pytest
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen.engine import strategies

AVX2 = ["avx2"]
AVX512 = ["avx2", "avx512f"]
AVX512_BF16 = ["avx2", "avx512f", "avx512_bf16"]


def _case(choice, faster, step_ms, flags, date="2026-12-02", recipe="dcgan_fashion_mnist"):
  return {"choice": choice, "faster": faster, "step_ms": step_ms, "recipe": recipe,
          "model": recipe.rsplit("_fashion_mnist", 1)[0],
          "setting": "float32", "cpu": "Measured CPU", "cpu_flags": flags,
          "tensorflow": "2.21.0", "date": date, "command": "python tools/benchmark.py"}


CASES = [
    _case("xla", "off", {"off": 60.0, "on": 66.0}, AVX512_BF16),
    _case("xla", "on", {"off": 250.0, "on": 170.0}, AVX2),
    _case("precision", "mixed_bfloat16", {"none": 90.0, "mixed_bfloat16": 72.0}, AVX512_BF16),
    _case("precision", "none", {"none": 250.0, "mixed_bfloat16": 1850.0}, AVX2),
]


@pytest.fixture
def cpu(monkeypatch, tmp_path):
  """Sets the CPU's flags, hides any GPU and gives the policy `cases` (CASES by default)."""

  def make(flags, cases=CASES):
    table = tmp_path / "measured_policy.json"
    table.write_text(json.dumps({"cases": cases}))
    monkeypatch.setattr(strategies, "MEASURED_POLICY", str(table))
    monkeypatch.setattr(strategies.machine, "describe",
                        lambda: {"cpu": "Test CPU", "cpu_flags": flags})
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [] if kind == "GPU" else ["cpu"])
  return make


def _config(**values):
  return config_lib.TrainConfig(model_dir="unused", **values)


def test_auto_takes_what_the_cpus_class_measured_faster_and_cites_the_case(cpu):
  cpu(["avx2", "avx512f", "avx512_bf16", "avx512_vnni"])
  assert strategies.choose_precision(_config(mixed_precision="auto")) == (
      strategies.PrecisionChoice(
          "mixed_bfloat16", "Precision auto: mixed_bfloat16 (measured: dcgan_fashion_mnist "
          "(float32) 72.0 ms/step in mixed_bfloat16, 90.0 in float32, on Measured CPU with "
          "native bfloat16, TensorFlow 2.21.0, 2026-12-02).", False))
  assert strategies.choose_xla(_config(xla="auto")) == strategies.XlaChoice(
      False, "XLA auto: off (measured: dcgan_fashion_mnist (float32) 60.0 ms/step without XLA, "
             "66.0 with XLA, on Measured CPU with AVX-512, TensorFlow 2.21.0, 2026-12-02).")


def test_auto_on_an_avx2_cpu_is_float32_with_xla_and_suggests_xla_when_it_is_off(cpu):
  cpu(AVX2)
  assert strategies.choose_xla(_config(xla="auto")).xla is True
  precision, note, is_warning = strategies.choose_precision(_config(mixed_precision="auto"))
  assert (precision, is_warning) == ("none", False)
  assert note.startswith("Precision auto: float32 (measured: dcgan_fashion_mnist (float32) "
                         "250.0 ms/step in float32, 1850.0 in mixed_bfloat16")
  assert note.endswith(" --xla may be faster here: dcgan_fashion_mnist (float32) 170.0 ms/step "
                       "with XLA, 250.0 without XLA, on Measured CPU with AVX2 and no AVX-512, "
                       "TensorFlow 2.21.0, 2026-12-02.")
  _, note, _ = strategies.choose_precision(_config(mixed_precision="auto", xla=True))
  assert "--xla" not in note


def test_a_case_carries_over_to_cpus_of_its_class_only(cpu):
  cpu(AVX512)  # AVX-512 without bfloat16: XLA as the AVX-512 case, precision as the AVX2 one.
  assert strategies.choose_xla(_config(xla="auto")).xla is False
  assert strategies.choose_precision(_config(mixed_precision="auto")).precision == "none"


def test_a_cpu_no_case_covers_gets_the_stated_default_and_the_command_that_measures_it(cpu):
  cpu([])  # Not x86 with AVX2: neither class of the table.
  command = ("no measured case covers Test CPU; `python tools/benchmark.py "
             "--recipe=dcgan_fashion_mnist --record_policy` measures one.")
  assert strategies.choose_xla(_config(xla="auto")) == strategies.XlaChoice(
      False, "XLA auto: off: " + command)
  assert strategies.choose_precision(_config(mixed_precision="auto")) == (
      strategies.PrecisionChoice("none", "Precision auto: float32: " + command, False))


def test_cases_that_disagree_give_the_default_and_the_newest_of_agreeing_ones_is_cited(cpu):
  later = _case("xla", "off", {"off": 50.0, "on": 51.0}, AVX512_BF16, date="2026-12-06",
                recipe="wgan_gp_fashion_mnist")
  cpu(AVX512_BF16, CASES + [later])
  assert strategies.choose_xla(_config(model="vae", xla="auto")).note.startswith(
      "XLA auto: off (measured: wgan_gp_fashion_mnist (float32) 50.0 ms/step without XLA")
  cpu(AVX512_BF16, CASES + [dict(later, faster="on", step_ms={"off": 51.0, "on": 50.0})])
  assert strategies.choose_xla(_config(xla="auto")).note.startswith(
      "XLA auto: off: no measured case covers Test CPU")


def test_a_run_cites_its_own_models_case_where_its_class_has_one(cpu):
  progan = _case("xla", "off", {"off": 114.3, "on": 445.9}, AVX512_BF16, date="2026-12-01",
                 recipe="progan_fashion_mnist")
  cpu(AVX512_BF16, CASES + [progan])
  assert strategies.choose_xla(_config(model="progan", xla="auto")).note.startswith(
      "XLA auto: off (measured: progan_fashion_mnist (float32) 114.3 ms/step without XLA")
  assert strategies.choose_xla(_config(model="dcgan", xla="auto")).note.startswith(
      "XLA auto: off (measured: dcgan_fashion_mnist (float32) 60.0 ms/step without XLA")
  assert strategies.choose_xla(_config(model="vae", xla="auto")).note.startswith(
      "XLA auto: off (measured: dcgan_fashion_mnist")  # No vae case: the newest of all.


@pytest.mark.parametrize("flags,xla,precision", [
    (AVX2, True, "none"),
    (AVX512, False, "none"),
    (AVX512_BF16, False, "mixed_bfloat16"),
    (["avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"], False, "mixed_bfloat16"),
])
def test_the_shipped_table_gives_each_measured_cpu_class_its_faster_path(
    monkeypatch, flags, xla, precision):
  monkeypatch.setattr(strategies.machine, "describe",
                      lambda: {"cpu": "Test CPU", "cpu_flags": flags})
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: [] if kind == "GPU" else ["cpu"])
  assert strategies.choose_xla(_config(xla="auto")).xla is xla
  assert strategies.choose_precision(_config(mixed_precision="auto")).precision == precision


def test_auto_is_bfloat16_on_a_tpu_whatever_the_host(cpu):
  cpu(AVX2)
  config = _config(mixed_precision="auto", strategy="tpu", tpu="local")
  assert strategies.choose_precision(config).precision == "mixed_bfloat16"


def test_auto_is_float32_on_a_gpu(cpu, monkeypatch):
  cpu(AVX512_BF16)
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: ["gpu"] if kind == "GPU" else ["cpu"])
  assert strategies.choose_precision(_config(mixed_precision="auto")).precision == "none"


def test_emulated_bfloat16_without_xla_is_kept_with_a_warning_citing_the_measured_cost(cpu):
  cpu(AVX2)
  config = _config(mixed_precision="mixed_bfloat16")
  assert strategies.choose_precision(config) == strategies.PrecisionChoice(
      "mixed_bfloat16", "Warning: --mixed_precision=mixed_bfloat16 on Test CPU, which has no "
      "native bfloat16 (AVX-512 BF16 or AMX): TensorFlow emulates it (measured: "
      "dcgan_fashion_mnist (float32) 250.0 ms/step in float32, 1850.0 in mixed_bfloat16, on "
      "Measured CPU with no native bfloat16, TensorFlow 2.21.0, 2026-12-02); "
      "--mixed_precision=auto or none avoids it.", True)


@pytest.mark.parametrize("native_bfloat16,xla,precision", [
    (True, False, "mixed_bfloat16"), (False, True, "mixed_bfloat16"), (False, False, "none"),
    (False, False, "mixed_float16")])
def test_an_explicit_precision_is_kept_silently_where_it_is_not_emulated(
    cpu, native_bfloat16, xla, precision):
  cpu(AVX512_BF16 if native_bfloat16 else AVX2)
  config = _config(mixed_precision=precision, xla=xla)
  assert strategies.choose_precision(config) == strategies.PrecisionChoice(precision, "", False)


def test_an_explicit_xla_where_it_was_measured_slower_is_kept_with_the_case(cpu):
  cpu(AVX512_BF16)
  assert strategies.choose_xla(_config(xla=True)) == strategies.XlaChoice(
      True, "--xla on Test CPU, where XLA was measured slower: dcgan_fashion_mnist (float32) "
            "60.0 ms/step without XLA, 66.0 with XLA, on Measured CPU with AVX-512, TensorFlow "
            "2.21.0, 2026-12-02; --noxla turns it off.")
  assert strategies.choose_xla(_config(xla=False)) == strategies.XlaChoice(False, "")


def test_xla_on_an_avx2_cpu_or_a_tpu_is_kept_without_a_note(cpu):
  cpu(AVX2)
  assert strategies.choose_xla(_config(xla=True, strategy="tpu", tpu="local")) == (
      strategies.XlaChoice(True, ""))
  assert strategies.choose_xla(_config(xla=True)) == strategies.XlaChoice(True, "")


@pytest.mark.parametrize("strategy,tpu,gpus,reason", [
    ("tpu", "local", [], "TPUStrategy compiles every step"),
    ("mirrored", "", [], "only with one replica"),
    ("default", "", ["gpu"], "on the GPU (not measured there"),
])
def test_xla_auto_does_not_compile_for_a_tpu_several_replicas_or_a_gpu(
    cpu, monkeypatch, strategy, tpu, gpus, reason):
  cpu(AVX2)
  monkeypatch.setattr(tf.config, "list_physical_devices",
                      lambda kind=None: gpus if kind == "GPU" else ["cpu"])
  xla, note = strategies.choose_xla(_config(xla="auto", strategy=strategy, tpu=tpu))
  assert xla is False
  assert note.startswith("XLA auto: off") and reason in note

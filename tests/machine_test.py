"""keras_gen.machine: the CPU named from the OS and the other processes' load measured."""

from keras_gen import machine

_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni sha_ni

processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni sha_ni
"""


def test_describe_reads_the_model_name_and_only_the_relevant_flags(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(_CPUINFO)

  info = machine.describe(str(path))

  assert info["cpu"] == "AMD EPYC"
  # The family/model numbers tell Zen 4 from Zen 5, which both call themselves "AMD EPYC".
  assert info["cpu_signature"] == "AuthenticAMD family 26 model 2 stepping 1"
  assert info["cpu_flags"] == ["avx2", "avx512f", "avx512_bf16", "avx512_vnni"]
  assert info["no_amx"] is True
  assert machine.summary(info).startswith(
      f"AMD EPYC, {info['cores']} cores (avx2, avx512f, avx512_bf16, avx512_vnni; no AMX), Python ")


def test_native_bfloat16_needs_avx512_bf16_or_amx():
  assert machine.has_native_bfloat16({"avx512f", "avx512_bf16"})
  assert machine.has_native_bfloat16({"amx_tile", "amx_bf16"})
  assert not machine.has_native_bfloat16({"avx512f", "avx2"})


def test_other_load_is_the_busy_time_not_spent_by_this_process(monkeypatch):
  clock = iter([100.0, 110.0])
  busy = iter([50.0, 65.0])   # 15 busy CPU seconds on the machine in 10 s...
  own = iter([3.0, 13.0])     # ...of which 10 were this process's.
  monkeypatch.setattr(machine.time, "monotonic", lambda: next(clock))
  monkeypatch.setattr(machine, "_busy_seconds", lambda: next(busy))
  monkeypatch.setattr(machine, "_own_seconds", lambda: next(own))

  other_cores = machine.OtherLoad().start().stop()

  assert other_cores == 0.5
  assert machine.load_note(other_cores) == "shared (other processes used 0.50 cores on average)"
  assert machine.load_note(0.02).startswith("idle")


def test_describe_reads_each_cpuinfo_file_once(tmp_path):
  path = tmp_path / "cpuinfo"
  path.write_text(_CPUINFO)
  first = machine.describe(str(path))

  path.write_text(_CPUINFO.replace("AMD EPYC", "Other CPU"))

  assert machine.describe(str(path))["cpu"] == first["cpu"] == "AMD EPYC"

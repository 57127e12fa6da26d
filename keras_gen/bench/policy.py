"""The measured cases that --xla=auto and --mixed_precision=auto follow
(`keras_gen.engine.strategies.MEASURED_POLICY`), made from a benchmark's timings."""

import json

from keras_gen import config as config_lib
from keras_gen import machine
from keras_gen import storage
from keras_gen.engine import strategies

_PRECISION_WORDS = {"none": "float32", "mixed_bfloat16": "mixed_bfloat16"}


def cases_from(results, recipe, command, date):
  """The cases a `benchmark.measure` result holds: XLA on against off for each precision timed
  both ways, and mixed_bfloat16 against float32 without XLA when both were timed."""
  step_ms = {(mode["precision"], mode["xla"]): round(mode["step_seconds"] * 1000, 1)
             for mode in results["modes"].values() if mode["precision"] in _PRECISION_WORDS}
  info = results["machine"]
  about = {"recipe": recipe, "model": results["model"], "cpu": info["cpu"],
           "cpu_signature": info.get("cpu_signature"), "cpu_flags": info["cpu_flags"],
           "tensorflow": info.get("tensorflow"), "date": date, "command": command}
  cases = [_case("xla", {"off": step_ms[precision, False], "on": step_ms[precision, True]},
                 f"{word}, batch {results['batch_size']}", about)
           for precision, word in _PRECISION_WORDS.items()
           if (precision, False) in step_ms and (precision, True) in step_ms]
  if ("none", False) in step_ms and ("mixed_bfloat16", False) in step_ms:
    cases.append(_case("precision", {"none": step_ms["none", False],
                                     "mixed_bfloat16": step_ms["mixed_bfloat16", False]},
                       f"no XLA, batch {results['batch_size']}", about))
  return cases


def _case(choice, step_ms, setting, about):
  return {"choice": choice, "faster": min(step_ms, key=step_ms.get), "step_ms": step_ms,
          "setting": setting, **about}


def record(cases, results, path=strategies.MEASURED_POLICY):
  """Appends `cases` to the table at `path`; refuses timings taken on a busy machine."""
  other = results.get("other_load_cores")
  if other is None or other >= machine.IDLE_CORES:
    raise config_lib.ConfigError(
        f"Not recorded: other processes used {other} cores while this ran; measured cases "
        f"come from an idle machine, so rerun it with nothing else running.")
  with open(path) as f:
    table = json.load(f)
  table["cases"] += cases
  storage.write_atomically(path, json.dumps(table, indent=2) + "\n")

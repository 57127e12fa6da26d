"""The pretrained zoo: zoo/pretrained/NAME/ holds weights.npz (every variable of the run, key
"<network>/<index>" in creation order or "<state name>/<variable name>") and manifest.json
(config, step, metrics, storage dtype, SHA-256 of the weights); docs/serving.md."""

import json
import os

import numpy as np

from keras_gen import config as config_lib
from keras_gen import serving
from keras_gen import storage
from keras_gen.engine import checkpoints
from keras_gen.engine import restore

PRETRAINED_DIR = os.path.join(config_lib.ZOO_DIR, "pretrained")
MANIFEST = "manifest.json"
WEIGHTS = "weights.npz"
BUDGET_BYTES = 20 * 1000 * 1000  # Every shipped model together (the 20 MB).
STORAGE_DTYPES = ("float16", "float32")
FLOAT16_MAX = float(np.finfo(np.float16).max)
# Fields of a run's config that name folders of the machine it ran on.
LOCAL_FIELDS = ("model_dir", "export_dir", "data_dir")


def names(root=PRETRAINED_DIR):
  """Folder names under `root` holding a manifest."""
  if not os.path.isdir(root):
    return []
  return sorted(name for name in os.listdir(root)
                if os.path.isfile(os.path.join(root, name, MANIFEST)))


def folder_of(name_or_folder, root=PRETRAINED_DIR):
  for folder in (name_or_folder, os.path.join(root, name_or_folder)):
    if os.path.isfile(os.path.join(folder, MANIFEST)):
      return folder
  raise config_lib.ConfigError(
      f"--pretrained={name_or_folder!r} is neither a pretrained model in {root} nor a folder "
      f"holding {MANIFEST}; pretrained models: {', '.join(names(root)) or 'none yet'}.")


def read_manifest(folder):
  """The folder's manifest, after checking every file's SHA-256 against it."""
  with open(os.path.join(folder, MANIFEST)) as f:
    manifest = json.load(f)
  for name, expected in manifest["files"].items():
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
      raise config_lib.ConfigError(f"Pretrained model {folder} lacks {name}, which its "
                                   f"{MANIFEST} lists.")
    actual = storage.sha256_of(path)
    if actual != expected["sha256"]:
      raise config_lib.ConfigError(
          f"{path} has SHA-256 {actual}, not the {expected['sha256']} its {MANIFEST} records: "
          f"the file is damaged or was changed (restore it, e.g. with `git checkout`).")
  return manifest


def load_run(name_or_folder):
  """A restore.RestoredRun of a pretrained model (float32 variables)."""
  folder = folder_of(name_or_folder)
  manifest = read_manifest(folder)
  config, family, networks, family_state = restore.build_networks(manifest["config"])
  with np.load(os.path.join(folder, WEIGHTS), allow_pickle=False) as stored:
    assign_arrays(networks, family_state, stored, f"{folder}/{WEIGHTS}")
  return restore.RestoredRun(family.config_at(config, family_state), family, networks,
                             int(manifest["step"]), folder, family_state)


def assign_arrays(networks, family_state, arrays, source):
  """Assigns `stored_arrays`' {key: array}, cast to each variable's dtype; ConfigError naming
  `source` for a missing key or another shape."""
  for key, variable in _variables(networks, family_state).items():
    if key not in arrays:
      raise config_lib.ConfigError(f"{source} has no {key!r}: it does not hold the networks "
                                   f"its manifest's config builds.")
    value = arrays[key]
    if tuple(value.shape) != tuple(variable.shape):
      raise config_lib.ConfigError(f"{source}: {key} has shape {value.shape}, the network's "
                                   f"variable {tuple(variable.shape)}.")
    variable.assign(value.astype(getattr(variable.dtype, "as_numpy_dtype", variable.dtype)))


def _variables(networks, family_state):
  variables = {f"{name}/{index:04d}": variable
               for name, network in networks.items()
               for index, variable in enumerate(network.variables)}
  if family_state is not None:
    variables.update({f"{family_state.name}/{name}": variable
                      for name, variable in family_state.named_variables().items()})
  return variables


def stored_arrays(networks, family_state, storage_dtype):
  """({key: array as stored}, [keys of float32 variables kept float32: not finite in float16])."""
  arrays, kept = {}, []
  for key, variable in _variables(networks, family_state).items():
    value = np.asarray(variable.numpy())
    if storage_dtype == "float16" and value.dtype == np.float32:
      if np.all(np.isfinite(value)) and np.abs(value).max(initial=0.0) <= FLOAT16_MAX:
        value = value.astype(np.float16)
      else:
        kept.append(key)
    arrays[key] = value
  return arrays, kept


def write(run, run_config, folder, manifest_fields, storage_dtype="float16",
          budget_bytes=BUDGET_BYTES):
  """Writes `run`'s weights and the manifest (manifest_fields, the run's config.json dict
  run_config, the step, storage and hashes) to `folder` atomically; returns the manifest.
  ConfigError, writing nothing, if the zoo would then exceed budget_bytes."""
  if storage_dtype not in STORAGE_DTYPES:
    raise config_lib.ConfigError(
        f"--storage_dtype={storage_dtype!r} is not one of {', '.join(STORAGE_DTYPES)}.")
  arrays, kept = stored_arrays(run.networks, run.family_state, storage_dtype)
  with serving.published_folder(folder) as partial:
    weights_path = os.path.join(partial, WEIGHTS)
    with open(weights_path, "wb") as f:
      np.savez_compressed(f, **arrays)
    manifest = {
        **manifest_fields,
        "model": run.config.model, "dataset": run.config.dataset, "step": run.step,
        "element_shape": list(run.config.element_shape),
        "storage_dtype": storage_dtype, "loaded_as": "float32", "kept_float32": kept,
        "weights_digest_before_storage": checkpoints.weights_digest(run.networks, run.family_state),
        "config": {**run_config, **{field: "" for field in LOCAL_FIELDS}},
        "files": {WEIGHTS: {"sha256": storage.sha256_of(weights_path),
                            "bytes": os.path.getsize(weights_path)}},
    }
    with open(os.path.join(partial, MANIFEST), "w") as f:
      f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    root = os.path.dirname(os.path.abspath(folder))
    total = folder_bytes(root) - folder_bytes(folder)  # Without the version it replaces.
    if total > budget_bytes:
      raise config_lib.ConfigError(
          f"With {os.path.basename(folder)} ({folder_bytes(partial):,} bytes) the pretrained "
          f"models in {root} would take {total:,} bytes, over the budget of {budget_bytes:,}; "
          f"nothing was written.")
  return manifest


def folder_bytes(root=PRETRAINED_DIR):
  return sum(os.path.getsize(os.path.join(path, name))
             for path, _, files in os.walk(root) for name in files)

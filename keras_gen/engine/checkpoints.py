"""One checkpoint for everything a resumed run needs, and the run folder's identity.

A checkpoint holds every network (moving averages included, they are networks
too), every optimizer, the global step and, in a phased run, the phase state
(`keras_gen.schedule.PhaseState`, under "phase"). Randomness and the input
position are functions of (seed, step) (and the phase state), so that is all
the state they need.
"""

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys

import tensorflow as tf

from keras_gen import config as config_lib

# Fields that make a model_dir belong to one run; a resumed run must match them.
IDENTITY_FIELDS = ("model", "dataset", "resolution")
PREFIX = "ckpt-"  # tf.train.CheckpointManager's checkpoint_name, and the number's dash.


def network_variables(networks):
  """Checkpoint children for the networks: each one's variables, in creation order.

  Keras 3 layers held in Python lists are not children in TensorFlow's object
  graph, so checkpointing the model objects would silently drop their weights;
  the flat list of `model.variables` holds every weight, and its order is fixed
  by the architecture (unlike Keras' auto-generated layer names).
  """
  return {f"network_{name}": list(network.variables) for name, network in networks.items()}


def make_checkpoint(step, networks, optimizers=None, phase=None):
  """A tf.train.Checkpoint of the step, the networks, the optimizers and the phase state."""
  return tf.train.Checkpoint(
      step=step, **network_variables(networks),
      **{f"optimizer_{name}": optimizer for name, optimizer in (optimizers or {}).items()},
      **({"phase": phase} if phase is not None else {}))


def make_manager(model_dir, networks, optimizers, step, max_to_keep, phase=None):
  checkpoint = make_checkpoint(step, networks, optimizers, phase)
  manager = tf.train.CheckpointManager(
      checkpoint, os.path.join(model_dir, "checkpoints"), max_to_keep=max_to_keep,
      step_counter=step)
  return checkpoint, manager


def complete_checkpoints(checkpoint_dir):
  """Paths of the checkpoints in checkpoint_dir whose index was written, newest first.

  TensorFlow writes a checkpoint's index after its data, so these are every
  checkpoint a save finished (whatever the `checkpoint` state file, which may be damaged
  or one save behind, says); their bytes may still have been damaged since.
  """
  steps = [int(name[len(PREFIX):-len(".index")]) for name in _names(checkpoint_dir)
           if name.startswith(PREFIX) and name.endswith(".index")
           and name[len(PREFIX):-len(".index")].isdigit()]
  return [os.path.join(checkpoint_dir, f"{PREFIX}{step}") for step in sorted(steps, reverse=True)]


def step_of(path):
  """The training step in a checkpoint path's name (PREFIX + step)."""
  return int(path.rsplit("-", 1)[-1])


def _names(folder):
  return os.listdir(folder) if os.path.isdir(folder) else []


def damage(path):
  """None if every tensor of the checkpoint at `path` reads back and matches its stored
  crc32c checksum, else the reader's first line of complaint (bytes cut or overwritten)."""
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, IndexError, ValueError) as error:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return re.sub(r"^TensorBundle at \S+ shard \d+ \(\d+ bytes\): ", "", first_line)
  return None


def restore(checkpoint, paths, partial=False):
  """Restores the first intact checkpoint of `paths` (newest first); returns it, or None if
  `paths` is empty.

  A checkpoint whose bytes are damaged is skipped with a warning that names it and
  the step restored instead. Raises StorageError naming the damaged files when none
  is intact, and ConfigError when intact bytes do not fit the networks and
  optimizers (a checkpoint of another configuration). `partial` restores only what
  `checkpoint` holds (the networks, for export and evaluation).
  """
  damaged = []
  for path in paths:
    problem = damage(path)
    if problem is not None:
      damaged.append(f"{path} ({problem})")
      continue
    if damaged:
      print(f"Warning: damaged checkpoint {'; '.join(damaged)}; using {path} (step "
            f"{step_of(path)}), the newest intact one.", file=sys.stderr, flush=True)
    try:
      status = checkpoint.restore(path)
      (status.expect_partial() if partial else status).assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
      raise config_lib.ConfigError(
          f"Checkpoint {path} does not match this model's networks and optimizers; it was "
          f"written by a different configuration ({str(e).splitlines()[0]}).") from e
    return path
  if damaged:
    raise config_lib.StorageError(
        f"No intact checkpoint to restore: {'; '.join(damaged)} is damaged or missing; restore "
        f"the files from a copy, or move them away to start over.")
  return None


def save(manager, step):
  """Saves checkpoint `step`; if the save fails (a full disk), removes what it wrote, so the
  newest complete checkpoint stays the previous one."""
  try:
    manager.save(checkpoint_number=step)
  except BaseException:
    for name in _names(manager.directory):
      if name == f"{PREFIX}{step}_temp" or name.startswith(f"{PREFIX}{step}."):
        _remove(os.path.join(manager.directory, name))
    raise


def remove_partial_writes(checkpoint_dir):
  """Removes what interrupted saves left: temporary folders, and data files without an index."""
  names = _names(checkpoint_dir)
  for name in names:
    stem = name.split(".data-")[0]
    if name.endswith("_temp") or (".data-" in name and f"{stem}.index" not in names):
      _remove(os.path.join(checkpoint_dir, name))


def _remove(path):
  if os.path.isdir(path):
    shutil.rmtree(path, ignore_errors=True)
  else:
    with contextlib.suppress(FileNotFoundError):
      os.remove(path)


def read_run_config(model_dir):
  """model_dir's config.json as a dict, or None if there is none; StorageError if damaged."""
  path = os.path.join(model_dir, "config.json")
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      run_config = json.load(f)
    problem = None if isinstance(run_config, dict) else f"a JSON {type(run_config).__name__}"
  except (ValueError, OSError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors.
    problem = str(e)
  if problem is None:
    unknown = set(run_config) - {field.name for field in
                                 dataclasses.fields(config_lib.TrainConfig)}
    problem = f"unknown fields {sorted(unknown)}" if unknown else None
  if problem is not None:
    raise config_lib.StorageError(
        f"{path} is damaged ({problem}), not the configuration object a run writes; delete "
        f"it and rerun the training command that made this folder, or use a new --model_dir.")
  return run_config


def check_model_dir(config):
  """Refuses a model_dir that is a file, or written by a run of another model, dataset or
  resolution, or whose checkpoints have other hyperparameters."""
  if os.path.exists(config.model_dir) and not os.path.isdir(config.model_dir):
    raise config_lib.ConfigError(f"--model_dir={config.model_dir} is a file, not a folder.")
  previous = read_run_config(config.model_dir)
  if previous is None:
    return
  for field in IDENTITY_FIELDS:
    if previous.get(field) != getattr(config, field):
      raise config_lib.ConfigError(
          f"--model_dir={config.model_dir} holds a run with {field}={previous.get(field)!r}, "
          f"not {getattr(config, field)!r}; use a new --model_dir.")
  previous_hparams = previous.get("hparams", {})
  changed = sorted(name for name, value in config.hparams.items()
                   if name in previous_hparams and previous_hparams[name] != value)
  if changed and read_latest_step(config.model_dir) is not None:
    raise config_lib.ConfigError(
        f"--model_dir={config.model_dir} holds checkpoints of a run with different "
        f"hyperparameters ({', '.join(changed)}); use a new --model_dir.")


def read_latest_step(model_dir):
  paths = complete_checkpoints(os.path.join(model_dir, "checkpoints"))
  return step_of(paths[0]) if paths else None


def write_run_config(config):
  config_lib.write_atomically(os.path.join(config.model_dir, "config.json"), config.to_json())


def weights_digest(networks, phase=None):
  """A short SHA-256 of every network weight and the phase state, to check that workers or
  runs agree bitwise. The phase state counts as a network named "phase"."""
  variables = {name: network.variables for name, network in networks.items()}
  if phase is not None:
    variables["phase"] = [phase.images_shown, phase.phase, phase.level, phase.alpha]
  digest = hashlib.sha256()
  for name in sorted(variables):
    for variable in variables[name]:
      digest.update(variable.numpy().tobytes())
  return digest.hexdigest()[:16]

"""One checkpoint for everything a resumed run needs (`make_checkpoint`), and the run folder's
identity. Randomness and the input position are functions of (seed, step): they need no state."""

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import uuid

import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen import storage
from keras_gen import tf_startup

# Fields that make a model_dir belong to one run; a resumed run must match them.
IDENTITY_FIELDS = ("model", "dataset", "resolution")
PREFIX = "ckpt-"  # tf.train.CheckpointManager's checkpoint_name, and the number's dash.
STATE_FILE = "checkpoint"  # The manager's index of the checkpoints it keeps.


def make_checkpoint(step, networks, optimizers=None, family_state=None):
  """A tf.train.Checkpoint of the step, the networks, the optimizers and the family's state
  (under its module name). A network is its list of variables: Keras 3 layers held in Python
  lists are not children in TensorFlow's object graph, so checkpointing the model would drop
  their weights silently; the architecture fixes the variables' order (unlike Keras'
  auto-generated layer names)."""
  return tf.train.Checkpoint(
      step=step,
      **{f"network_{name}": list(network.variables) for name, network in networks.items()},
      **{f"optimizer_{name}": optimizer for name, optimizer in (optimizers or {}).items()},
      **({family_state.name: family_state} if family_state is not None else {}))


def make_manager(model_dir, checkpoint, max_to_keep):
  """A manager of `checkpoint` over model_dir/checkpoints, after `keep_newest` made the
  folder hold the newest max_to_keep complete checkpoints and an index listing them."""
  directory = os.path.join(model_dir, "checkpoints")
  keep_newest(directory, max_to_keep)
  return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep,
                                    step_counter=checkpoint.step)


def keep_newest(checkpoint_dir, max_to_keep):
  """Removes all but the newest `max_to_keep` complete checkpoints (none while those are all
  damaged) and rewrites the `checkpoint` state file to list the rest if it lists others or
  is damaged (with a warning then): the manager rotates only the checkpoints it lists, and a
  kill between a save's rename and the state's update leaves one it does not list, which
  would stay forever; a damaged state file stops the manager altogether."""
  paths = complete_checkpoints(checkpoint_dir)
  kept = paths[:max_to_keep] if max_to_keep else paths
  if len(kept) < len(paths) and all(damage(path) is not None for path in kept):
    kept = paths  # An older one may be the run's only intact state: `restore` finds it.
  for path in paths[len(kept):]:
    name = os.path.basename(path)
    # The index first: a checkpoint without one is not complete, and its data is a leftover.
    for leftover in [f"{name}.index"] + sorted(other for other in _names(checkpoint_dir)
                                                if other.startswith(f"{name}.data-")):
      _remove(os.path.join(checkpoint_dir, leftover))
  listed, problem = _read_state(checkpoint_dir)
  oldest_first = kept[::-1]
  if problem is not None:
    names = ", ".join(os.path.basename(path) for path in oldest_first) or "none"
    print(f"Warning: {os.path.join(checkpoint_dir, STATE_FILE)} is damaged ({problem}); "
          f"rebuilt it from the complete checkpoints in the folder: {names}.",
          file=sys.stderr, flush=True)
  if problem is not None or listed != oldest_first:
    _write_state(checkpoint_dir, oldest_first)


def _read_state(checkpoint_dir):
  """(paths the state file lists, oldest first; None, or what is wrong with the file)."""
  if not os.path.lexists(os.path.join(checkpoint_dir, STATE_FILE)):
    return [], None
  try:
    with tf_startup.python_warnings_hidden():  # It logs an unparsable file, and ignores it.
      state = tf.train.get_checkpoint_state(checkpoint_dir)
  except UnicodeDecodeError as error:
    return [], f"not text: {error}"
  except ValueError:  # TensorFlow's "Invalid checkpoint state": no newest checkpoint named.
    return [], "it names no checkpoint"
  if state is None:
    return [], "not a checkpoint state"
  listed = list(state.all_model_checkpoint_paths)
  return (listed if listed[-1:] == [state.model_checkpoint_path] else []), None


def _write_state(checkpoint_dir, oldest_first):
  """Writes the state file the manager writes, listing `oldest_first` (by name, so the folder
  can move); removes it when there is nothing to list."""
  path = os.path.join(checkpoint_dir, STATE_FILE)
  if not oldest_first:
    _remove(path)
    return
  times = [os.path.getmtime(f"{checkpoint}.index") for checkpoint in oldest_first]
  names = [os.path.basename(checkpoint) for checkpoint in oldest_first]
  lines = ([f'model_checkpoint_path: "{names[-1]}"']
           + [f'all_model_checkpoint_paths: "{name}"' for name in names]
           + [f"all_model_checkpoint_timestamps: {time!r}" for time in times]
           # The manager rotates only the checkpoints written after this time.
           + [f"last_preserved_timestamp: {min(times) - 1.0!r}"])
  partial = f"{path}.tmp{uuid.uuid4().hex}"  # TensorFlow's own temporary name for it.
  with open(partial, "w") as f:
    f.write("\n".join(lines) + "\n")
  os.replace(partial, path)


def complete_checkpoints(checkpoint_dir):
  """Paths of the checkpoints in checkpoint_dir whose index was written, newest first: every
  checkpoint a save finished, as TensorFlow writes the index last, whatever the state file
  (perhaps damaged or one save behind) says; their bytes may have been damaged since."""
  steps = [int(match[1]) for name in _names(checkpoint_dir)
           if (match := re.fullmatch(rf"{PREFIX}([0-9]+)\.index", name))]
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
  """Restores the first intact checkpoint of `paths` (newest first; damaged ones are skipped
  with a warning) and returns its path, or None if `paths` is empty. StorageError naming the
  damaged files when none is intact; ConfigError when intact bytes do not fit the networks
  and optimizers (another configuration's). `partial` restores only what `checkpoint` holds
  (the networks, for export and evaluation)."""
  damaged = []
  for path in paths:
    if (problem := damage(path)) is not None:
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
    raise storage.StorageError(
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
  """Removes what interrupted saves left: temporary folders, data files without an index, and
  temporary copies of the state file (`checkpoint.tmp<hex>`, renamed into place when whole)."""
  names = _names(checkpoint_dir)
  for name in names:
    stem = name.split(".data-")[0]
    if (name.endswith("_temp") or (".data-" in name and f"{stem}.index" not in names)
        or name.startswith(f"{STATE_FILE}.tmp")):
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
    unknown = set(run_config) - {field.name for field in dataclasses.fields(config_lib.TrainConfig)}
    problem = (f"unknown fields {sorted(unknown)}" if unknown
               else registry.run_config_problem(run_config))
  if problem is not None:
    raise storage.StorageError(
        f"{path} is damaged ({problem}), not the configuration object a run writes; delete "
        f"it and rerun the training command that made this folder, or use a new --model_dir.")
  return run_config


# Fields a resumed run keeps unless --allow_changes, as do its hparams: each changes what the
# checkpoint's numbers mean or which data and noise the next steps draw. The others (train_steps,
# the intervals, metrics, strategy, paths) may change on resume without harm.
RESUME_FIELDS = ("seed", "batch_size", "mixed_precision", "xla")


def check_model_dir(config):
  """Refuses a model_dir that is a file, or written by a run of another model, dataset or
  resolution, or whose checkpoints were trained with other RESUME_FIELDS or hyperparameters
  (unless config.allow_changes: then the changes are printed)."""
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
  if read_latest_step(config.model_dir) is None:
    return  # Nothing to resume: the run starts afresh with this command's values.
  pairs = [(field, previous[field], getattr(config, field))
           for field in RESUME_FIELDS if field in previous]
  # An hparam the run's config.json lacks (added to the family since) is no change.
  pairs += [(name, previous["hparams"][name], value) for name, value in config.hparams.items()
            if name in previous.get("hparams", {})]
  changed = [(name, old, new) for name, old, new in pairs if old != new]
  if not changed:
    return
  if config.allow_changes:
    print(f"Resuming --model_dir={config.model_dir} with changes (--allow_changes): "
          + ", ".join(f"{name}={old!r} -> {new!r}" for name, old, new in changed) + ".",
          flush=True)
    return
  before = ", ".join(f"{name}={old!r}" for name, old, _ in changed)
  now = ", ".join(f"{name}={new!r}" for name, _, new in changed)
  raise config_lib.ConfigError(
      f"--model_dir={config.model_dir} was trained with {before}; this command asks {now}. "
      f"Rerun with the same values, use a new --model_dir, or pass --allow_changes to resume "
      f"with the new ones.")


def read_latest_step(model_dir):
  paths = complete_checkpoints(os.path.join(model_dir, "checkpoints"))
  return step_of(paths[0]) if paths else None


def write_run_config(config):
  storage.write_atomically(os.path.join(config.model_dir, "config.json"), config.to_json())


def weights_digest(networks, family_state=None):
  """A short SHA-256 of every network weight and the family's state, to check that workers
  or runs agree bitwise. The family's state counts as a network of its module's name."""
  variables = {name: network.variables for name, network in networks.items()}
  if family_state is not None:
    variables[family_state.name] = list(family_state.named_variables().values())
  digest = hashlib.sha256()
  for name in sorted(variables):
    for variable in variables[name]:
      digest.update(variable.numpy().tobytes())
  return digest.hexdigest()[:16]

"""One checkpoint for everything a resumed run needs, and the run folder's identity.

A checkpoint holds every network (moving averages included, they are networks
too), every optimizer, the global step and, in a phased run, the phase state
(`keras_gen.schedule.PhaseState`, under "phase"). Randomness and the input
position are functions of (seed, step) (and the phase state), so that is all
the state they need.
"""

import hashlib
import json
import os

import tensorflow as tf

from keras_gen import config as config_lib

# Fields that make a model_dir belong to one run; a resumed run must match them.
IDENTITY_FIELDS = ("model", "dataset", "resolution")


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


def restore_latest(checkpoint, manager):
  """Restores the newest checkpoint, if any; returns its path or None.

  The TensorFlow checkpoint index is replaced atomically after the data files
  are complete, so a write killed half-way leaves the index on the previous
  checkpoint.
  """
  path = manager.latest_checkpoint
  if path is None:
    return None
  try:
    checkpoint.restore(path).assert_existing_objects_matched()
  except (tf.errors.OpError, AssertionError, ValueError) as e:
    raise config_lib.ConfigError(
        f"Checkpoint {path} does not match this model's networks and optimizers; it was "
        f"written by a different configuration ({str(e).splitlines()[0]}).") from e
  return path


def read_run_config(model_dir):
  path = os.path.join(model_dir, "config.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def check_model_dir(config):
  """Refuses a model_dir written by a run of another model, dataset or resolution."""
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
  path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  return None if path is None else int(path.rsplit("-", 1)[-1])


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

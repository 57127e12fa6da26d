"""Rebuilds a trained run's networks from its model_dir, for export, evaluation and tools."""

import dataclasses
import os

import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen.engine import checkpoints


@dataclasses.dataclass
class RestoredRun:
  config: config_lib.TrainConfig  # `family.config_at` the checkpoint's state.
  family: object
  networks: dict
  step: int
  checkpoint_path: str
  family_state: object = None  # The family's `make_state()`, else None.


def load_run(model_dir, checkpoint_path=None, step=None):
  """The networks (at the run's full size) of model_dir's newest intact checkpoint, or of
  `checkpoint_path`, or of the one at `step`; ConfigError if there is none, StorageError if
  config.json or every checkpoint is damaged."""
  run_config = checkpoints.read_run_config(model_dir) if os.path.isdir(model_dir) else None
  if run_config is None:
    raise config_lib.ConfigError(
        f"--model_dir={model_dir} holds no keras_gen run (no config.json).")
  if step is not None:
    if checkpoint_path:
      raise config_lib.ConfigError("Give --checkpoint or --step, not both.")
    checkpoint_path = checkpoint_at_step(model_dir, step)
  config, family, networks, family_state = build_networks(run_config)
  restored_step = tf.Variable(0, dtype=tf.int64, trainable=False)
  checkpoint = checkpoints.make_checkpoint(restored_step, networks, family_state=family_state)
  checkpoint_path = checkpoints.restore(
      checkpoint, [checkpoint_path] if checkpoint_path else
      checkpoints.complete_checkpoints(os.path.join(model_dir, "checkpoints")), partial=True)
  if checkpoint_path is None:
    raise config_lib.ConfigError(f"--model_dir={model_dir} holds no checkpoint yet.")
  return RestoredRun(family.config_at(config, family_state), family, networks,
                     int(restored_step.numpy()), checkpoint_path, family_state)


def checkpoint_at_step(model_dir, step):
  """model_dir's complete checkpoint of `step`; else ConfigError naming the steps it holds."""
  paths = checkpoints.complete_checkpoints(os.path.join(model_dir, "checkpoints"))
  by_step = {checkpoints.step_of(path): path for path in paths}
  if step not in by_step:
    held = ", ".join(str(held_step) for held_step in sorted(by_step)) or "none"
    raise config_lib.ConfigError(
        f"--model_dir={model_dir} holds no checkpoint at step {step}; the steps it holds: {held}.")
  return by_step[step]


def build_networks(run_config):
  """(TrainConfig, family, freshly built networks, family state or None) of a config.json dict."""
  config = config_lib.TrainConfig(**run_config)
  family, _ = registry.get_family(config.model)
  networks = family.build(config.hparams, tuple(config.element_shape))
  return config, family, networks, family.make_state()

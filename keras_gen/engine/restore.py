"""Rebuilds a trained run's networks from its model_dir, for export, evaluation and tools."""

import dataclasses
import os

import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen import schedule
from keras_gen.engine import checkpoints


@dataclasses.dataclass
class RestoredRun:
  config: config_lib.TrainConfig  # A phased run's element_shape is its checkpoint's level.
  family: object
  networks: dict
  step: int
  checkpoint_path: str
  phase: object = None  # The schedule.PhaseState of a phased run, else None.


def load_run(model_dir, checkpoint_path=None):
  """Returns the networks of the newest (or the given) checkpoint in model_dir.

  The networks are built at the run's full element_shape, as it trained them;
  for a phased run (Progressive GAN) the returned config's element_shape is
  that of the level the checkpoint is at, the size G makes there, so an export
  or evaluation of a run stopped at 8x8 of 32x32 describes 8x8 images, as the
  training loop's own export does.

  A damaged newest checkpoint is skipped with a warning (`checkpoints.restore`).
  Raises ConfigError naming the folder if it holds no run or no checkpoint, and
  StorageError if its config.json or every checkpoint (or the one given) is damaged.
  """
  run_config = checkpoints.read_run_config(model_dir) if os.path.isdir(model_dir) else None
  if run_config is None:
    raise config_lib.ConfigError(
        f"--model_dir={model_dir} holds no keras_gen run (no config.json).")
  config, family, networks, phase = build_networks(run_config)
  step = tf.Variable(0, dtype=tf.int64, trainable=False)
  checkpoint = checkpoints.make_checkpoint(step, networks, phase=phase)
  checkpoint_path = checkpoints.restore(
      checkpoint, [checkpoint_path] if checkpoint_path else
      checkpoints.complete_checkpoints(os.path.join(model_dir, "checkpoints")), partial=True)
  if checkpoint_path is None:
    raise config_lib.ConfigError(f"--model_dir={model_dir} holds no checkpoint yet.")
  config = schedule.config_at_level(config, phase)
  return RestoredRun(config, family, networks, int(step.numpy()), checkpoint_path, phase)


def build_networks(run_config):
  """(TrainConfig, family, networks, phase state or None) of a run's config.json dict, the
  networks freshly initialized at the run's full element_shape, for weights to be read into."""
  config = config_lib.TrainConfig(**run_config)
  family, _ = registry.get_family(config.model)
  networks = family.build(config.hparams, tuple(config.element_shape))
  phase = schedule.PhaseState() if family.phases is not None else None
  return config, family, networks, phase

"""A run as a schedule of segments (`keras_gen.schedule.Segment`), each with one input pipeline,
batch size and set of learning rates; the loop asks for the segment at a step and never learns
what it stands for. A family may make its own schedule; the others get `PlainSchedule`."""

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import schedule


def load_sources(config, family):
  """The training split and a fixed batch to log, held out where there is one."""
  source = data.load(config.dataset, "train", config.data_dir or None,
                     config.resolution or None, config.seed)
  if source.kind not in family.DATA_KINDS:
    raise config_lib.ConfigError(
        f"--model={config.model} trains on {' or '.join(family.DATA_KINDS)}, but "
        f"--dataset={config.dataset} holds {source.kind}.")
  try:
    held_out = data.load(config.dataset, "test", config.data_dir or None,
                         config.resolution or None, config.seed)
  except data.DataError:
    held_out = source
  return source, held_out.examples[:schedule.SUMMARY_EXAMPLES]


class PlainSchedule:
  """One segment of --train_steps steps over the dataset's training split."""

  def __init__(self, config, family, replicas):
    if config.batch_size % replicas:
      raise config_lib.ConfigError(
          f"--batch_size={config.batch_size} is not divisible by the {replicas} replicas "
          f"in sync.")
    self.config, self.family = config, family
    self.source, self.summary_batch = load_sources(config, family)
    self.element_shape = tuple(self.source.element_shape)

  def bind(self, family_state):
    """Takes the family's state (from `make_state`), which a plain run does not read."""

  def segment(self, step, optimizers):
    """The segment that runs from `step`, or None once the run is done."""
    del optimizers
    config = self.config
    if step >= config.train_steps:
      return None
    minibatches = self.family.minibatches_per_step(config.hparams)
    examples = config.batch_size * minibatches
    return schedule.Segment(end_step=config.train_steps, global_batch_size=config.batch_size,
                   examples_per_step=examples, summary_batch=self.summary_batch,
                   input_fn=data.input_fn(self.source, examples, config.seed, step,
                                          minibatches=minibatches))

  def total_steps(self, step):
    del step
    return self.config.train_steps

  def position(self):
    """Progress-line text and scalars of the position beyond the step."""
    return "", {}

  def config_now(self, config):
    """The config that describes the networks as they are now (for exports and metrics)."""
    return config

  def finish(self):
    """The position a finished run reached beyond its step, for `RunResult.schedule`."""
    return {}

  def data_error(self, error):
    """A DataError for a truncated or corrupt record the schedule can name, else None."""


def make_schedule(config, family, replicas):
  if family.make_schedule is not None:
    return family.make_schedule(config, replicas)
  return PlainSchedule(config, family, replicas)

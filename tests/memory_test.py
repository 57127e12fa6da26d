"""The memory estimate of one training step, and the refusal of a step the machine cannot hold."""

import math

import keras
import pytest
import tensorflow as tf

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen.engine import memory

GB = 2 ** 30
# The element shape of each zoo recipe's dataset (progan:FOLDER datasets are made by
# tools/dataset_tool.py at the resolution their recipe's description gives).
DATASET_SHAPES = {"fashion_mnist": (28, 28, 1), "grid25": (2,), "ring8": (2,),
                  "progan:datasets/fashion_mnist32": (32, 32, 1),
                  "progan:datasets/cifar10": (32, 32, 3),
                  "progan:datasets/emoji64": (64, 64, 3),
                  "progan:datasets/celeba_hq": (1024, 1024, 3)}


def _resolved(recipe=None, **values):
  config = config_lib.make_config(recipe, dict(values, model_dir="/unused"))
  family, presets = registry.get_family(config.model)
  config.hparams = config_lib.resolve_hparams(config.model, family.DEFAULT_HPARAMS,
                                              {**presets, **config.hparams})
  return config, family


def _recipe_shape(config):
  shape = DATASET_SHAPES[config.dataset]
  return (config.resolution, config.resolution, shape[2]) if config.resolution else shape


@pytest.mark.parametrize("recipe", config_lib.recipe_names())
def test_every_zoo_recipe_fits_well_within_a_24_gb_machine(recipe):
  config, family = _resolved(recipe)
  estimate = memory.estimate_step(config, family, _recipe_shape(config))
  # Progressive GAN on CelebA-HQ at 256x256 with its minibatch of 14 is the largest: about
  # 8.9 GB, which is what it needs (with the same widths at 64x64 the estimate, 108 MB per
  # example, matched the measured peak resident memory's growth, 113 MB per example).
  limit = 10 * GB if recipe == "progan_celeba_hq" else 8 * GB
  assert estimate.total < limit, memory.format_bytes(estimate.total)


def test_a_batch_of_100000_dcgan_is_refused_with_the_estimate_and_the_available_memory(
    monkeypatch):
  config, family = _resolved(model="dcgan", batch_size=100000)
  monkeypatch.setattr(memory, "available_bytes", lambda: 23 * GB)
  with pytest.raises(config_lib.ConfigError) as raised:
    memory.check(config, family, (28, 28, 1), tf.distribute.get_strategy())
  assert str(raised.value) == (
      "--batch_size=100000 needs about 79 GB for one dcgan step (weights 24 MB, activations "
      "79 GB, runtime 160 MB), more than the 23 GB this machine has available; lower "
      "--batch_size.")


def test_the_recipes_batch_passes_where_the_memory_is_available(monkeypatch):
  config, family = _resolved("dcgan_fashion_mnist")
  monkeypatch.setattr(memory, "available_bytes", lambda: 1 * GB)
  memory.check(config, family, (32, 32, 1), tf.distribute.get_strategy())


def test_a_phased_runs_largest_minibatch_is_named_by_its_phase(monkeypatch):
  config, family = _resolved(model="progan", hparams=dict(TINY_HPARAMS["progan"],
                                                          minibatch_default=1000000))
  estimate = memory.estimate_step(config, family, (8, 8, 1))
  assert (estimate.side, estimate.batch_size) == (8, 1000000)
  monkeypatch.setattr(memory, "available_bytes", lambda: 2 * GB)
  with pytest.raises(config_lib.ConfigError, match=(
      r"^The minibatch of 1000000 at 8x8 needs about [\d.]+ GB for one progan step "
      r"\(weights [\d.]+ MB, activations [\d.]+ GB, runtime 160 MB\), more than the 2.0 GB this "
      r"machine has "
      r"available; lower minibatch_default or minibatch_overrides in --hparams\.$")):
    memory.check(config, family, (8, 8, 1), tf.distribute.get_strategy())


def _bytes(variables):
  return sum(math.prod(v.shape) * tf.as_dtype(v.dtype).size for v in variables)


@pytest.mark.parametrize("on_nonfinite,copies", [("skip", 1), ("restore", 0)])
def test_weights_count_every_variable_gradient_slot_and_the_transactions_copy_of_the_real_build(
    on_nonfinite, copies):
  config, family = _resolved(model="dcgan", on_nonfinite=on_nonfinite,
                             hparams=dict(TINY_HPARAMS["dcgan"], ema_decay=0.9))
  networks = family.build(config.hparams, (16, 16, 1))
  optimizers = list(family.optimizers(config.hparams, networks).values())
  for optimizer, variables in optimizers:
    optimizer.build(variables)
  state = (_bytes(v for network in networks.values() for v in network.variables)
           + _bytes(v for optimizer, _ in optimizers for v in optimizer.variables))
  gradients = _bytes(v for _, variables in optimizers for v in variables)
  estimate = memory.estimate_step(config, family, (16, 16, 1))
  assert estimate.weights == state * (1 + copies) + gradients
  assert estimate.largest_network in ("G", "G_ema")
  assert estimate.largest_parameters == networks["G"].count_params()


def test_networks_of_terabytes_are_counted_without_allocating_them():
  small, family = _resolved(model="dcgan", hparams={"latent_dim": 8})
  huge, _ = _resolved(model="dcgan", hparams={"latent_dim": 100000000})
  parameters = family.build(small.hparams, (16, 16, 1))["G"].count_params()
  estimate = memory.estimate_step(huge, family, (16, 16, 1))
  # G's first layer maps z to 4x4x128 without a bias: 2,048 weights per latent dimension.
  assert estimate.largest_parameters == parameters + (100000000 - 8) * 2048
  assert estimate.weights > 5 * 2 ** 40


def test_the_estimate_leaves_keras_layer_names_as_they_were():
  before = keras.layers.Dense(1).name
  config, family = _resolved(model="dcgan", hparams=TINY_HPARAMS["dcgan"])
  memory.estimate_step(config, family, (16, 16, 1))
  after = keras.layers.Dense(1).name
  number = lambda name: int(name.rpartition("_")[2]) if "_" in name else 0
  assert number(after) == number(before) + 1


def test_a_cgroup_limit_lowers_the_available_memory(monkeypatch, tmp_path):
  (tmp_path / "memory.max").write_text("1073741824\n")
  (tmp_path / "memory.current").write_text("268435456\n")
  monkeypatch.setattr(memory, "_cgroup_files",
                      lambda: [(str(tmp_path), "memory.max", "memory.current")])
  assert memory.available_bytes() == 768 * 2 ** 20
  (tmp_path / "memory.max").write_text("max\n")
  assert memory.available_bytes() > 768 * 2 ** 20  # MemAvailable alone.


@pytest.mark.parametrize("count,text", [
    (12 * 2 ** 20, "12 MB"), (100, "1 MB"), (int(4.54 * GB), "4.5 GB"), (41 * GB, "41 GB"),
    (int(5.21 * 2 ** 40), "5.2 TB")])
def test_byte_counts_read_as_megabytes_gigabytes_or_terabytes(count, text):
  assert memory.format_bytes(count) == text

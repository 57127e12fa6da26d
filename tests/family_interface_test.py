"""Every registered family satisfies the interface of keras_gen.families.base."""

import importlib
import inspect
import types

import pytest

from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen.families import base

# The parameters every hook is called with, in order (see base's docstring).
HOOK_PARAMETERS = {
    "build": ["hparams", "element_shape"],
    "optimizers": ["hparams", "networks"],
    "train_step": ["networks", "optimizers", "batch", "context", "hparams"],
    "summaries": ["networks", "batch", "context", "hparams"],
    "serving": ["networks", "hparams", "family_state"],
    "validate_hparams": ["hparams"],
    "minibatches_per_step": ["hparams"],
    "make_state": [],
    "make_schedule": ["config", "replicas"],
    "resolutions": ["hparams", "element_shape"],
    "config_at": ["config", "family_state"],
    "features": ["networks", "hparams", "family_state"],
}
# Hooks whose last parameter, the family's state, is passed by position under any name.
STATE_HOOKS = ("serving", "features")


def _named(hook, parameters):
  return parameters[:-1] if hook in STATE_HOOKS else parameters


def _parameters(function):
  return list(inspect.signature(function).parameters)


@pytest.mark.parametrize("model", registry.model_names())
def test_every_registered_family_satisfies_the_interface(model):
  family, presets = registry.get_family(model)
  assert isinstance(family, base.Family)
  assert family.KIND in base.KINDS
  assert family.DATA_KINDS and set(family.DATA_KINDS) <= {"images", "points"}
  for hook, parameters in HOOK_PARAMETERS.items():
    function = getattr(family, hook)
    if function is None:
      continue
    names = _parameters(function)[:len(parameters)]
    assert len(names) == len(parameters), (model, hook)
    assert _named(hook, names) == _named(hook, parameters), (model, hook)
  hparams = config_lib.resolve_hparams(model, family.DEFAULT_HPARAMS, presets)
  family.validate_hparams(hparams)
  assert family.minibatches_per_step(hparams) >= 1


@pytest.mark.parametrize("model", registry.model_names())
def test_a_module_declares_its_hooks_with_the_interfaces_parameters(model):
  family, _ = registry.get_family(model)
  module = importlib.import_module(family.name)
  stateful = getattr(module, "make_state", None) is not None
  for hook in base.REQUIRED + base.OPTIONAL:
    function = getattr(module, hook, None)
    if not callable(function):
      continue
    expected = HOOK_PARAMETERS[hook]
    if hook in STATE_HOOKS and not stateful:
      expected = expected[:-1]  # Only a family with a state reads it.
    elif hook in STATE_HOOKS:
      expected = expected[:-1] + [list(inspect.signature(function).parameters)[2]]
    # Extra parameters must have defaults (autoencoder.serving's `code`).
    signature = inspect.signature(function)
    assert list(signature.parameters)[:len(expected)] == expected, (model, hook)
    extra = list(signature.parameters.values())[len(expected):]
    assert all(p.default is not inspect.Parameter.empty for p in extra), (model, hook)


def test_base_docstring_names_every_hook_of_the_interface():
  for hook in base.REQUIRED + base.OPTIONAL:
    assert hook in base.__doc__, hook


def test_a_module_without_a_required_hook_is_refused_naming_it():
  module = types.ModuleType("incomplete_family")
  module.KIND = "generator"
  with pytest.raises(TypeError, match="incomplete_family lacks DEFAULT_HPARAMS, build"):
    base.Family.from_module(module)


def test_optional_hooks_default_to_one_minibatch_no_schedule_no_state_and_an_autoencoders_code():
  family, _ = registry.get_family("autoencoder")
  assert family.make_schedule is None and family.make_state() is None
  assert family.minibatches_per_step({}) == 1
  assert family.validate_hparams is not None
  gan, _ = registry.get_family("progan")
  assert gan.make_schedule is not None

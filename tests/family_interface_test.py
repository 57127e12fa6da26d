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
    "serving": ["networks", "hparams", "phase"],
    "validate_hparams": ["hparams"],
    "minibatches_per_step": ["hparams"],
    "phases": ["hparams", "element_shape"],
    "features": ["networks", "hparams", "phase"],
}


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
    if hook == "phases" and function is None:
      continue
    assert _parameters(function)[:len(parameters)] == parameters, (model, hook)
  hparams = config_lib.resolve_hparams(model, family.DEFAULT_HPARAMS, presets)
  family.validate_hparams(hparams)
  assert family.minibatches_per_step(hparams) >= 1


@pytest.mark.parametrize("model", registry.model_names())
def test_a_module_declares_its_hooks_with_the_interfaces_parameters(model):
  family, _ = registry.get_family(model)
  module = importlib.import_module(family.name)
  phased = getattr(module, "phases", None) is not None
  for hook in base.REQUIRED + base.OPTIONAL:
    function = getattr(module, hook, None)
    if not callable(function):
      continue
    expected = HOOK_PARAMETERS[hook]
    if hook in ("serving", "features") and not phased:
      expected = expected[:-1]  # Only a phased family's read the phase state.
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


def test_optional_hooks_default_to_one_minibatch_no_phases_and_an_autoencoders_code():
  family, _ = registry.get_family("autoencoder")
  assert family.phases is None
  assert family.minibatches_per_step({}) == 1
  assert family.validate_hparams is not None
  gan, _ = registry.get_family("progan")
  assert gan.phases is not None

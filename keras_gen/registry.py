"""Model names and the family modules that implement them.

A family is one module under `keras_gen.families` with a fixed interface (see
`keras_gen.families.base`). Several model names may share one module when they
differ only in hyperparameters; the second field holds those presets.
"""

import importlib

from keras_gen import config as config_lib

# name -> (module, hyperparameter presets applied before recipe and flags, summary)
MODELS = {
    "autoencoder": ("keras_gen.families.autoencoder", {},
                    "undercomplete MLP or convolutional autoencoder"),
    "dcgan": ("keras_gen.families.gan", {"architecture": "dcgan", "loss": "non_saturating"},
              "DCGAN (Radford et al. 2016), non-saturating loss"),
}


def model_names():
  return sorted(MODELS)


def describe_models():
  return "\n".join(f"  {name:<24} {MODELS[name][2]}" for name in model_names())


def get_family(name):
  """Returns (family module, presets) for a model name; raises ConfigError if unknown."""
  if name not in MODELS:
    raise config_lib.ConfigError(
        f"--model={name!r} is not a known model; valid models: {', '.join(model_names())}.")
  module_name, presets, _ = MODELS[name]
  return importlib.import_module(module_name), dict(presets)

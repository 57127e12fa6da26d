"""Model names and the family modules (`keras_gen.families.base`'s interface) that implement
them; names that share a module differ in hyperparameter presets."""

import importlib

from keras_gen import config as config_lib

# name -> (module, hyperparameter presets applied before recipe and flags, summary)
MODELS = {
    "autoencoder": ("keras_gen.families.autoencoder", {},
                    "undercomplete MLP or convolutional autoencoder"),
    "pca": ("keras_gen.families.pca", {"method": "closed_form"},
            "PCA, closed form streamed over the data (top-k eigenvectors of the covariance)"),
    "linear_autoencoder": ("keras_gen.families.pca", {"method": "gradient_descent"},
                           "linear autoencoder by gradient descent: spans the PCA subspace"),
    "sparse_autoencoder": ("keras_gen.families.sparse_autoencoder", {},
                           "overcomplete autoencoder with an L1 or KL sparsity penalty"),
    "denoising_autoencoder": ("keras_gen.families.denoising_autoencoder", {},
                              "denoising autoencoder (Vincent et al. 2008)"),
    "stochastic_autoencoder": ("keras_gen.families.stochastic_autoencoder", {},
                               "stochastic encoder p(h|x) and decoder p(x|h)"),
    "contractive_autoencoder": ("keras_gen.families.contractive_autoencoder", {},
                                "contractive autoencoder (Rifai et al. 2011)"),
    "vae": ("keras_gen.families.vae", {}, "variational autoencoder (Kingma & Welling 2014)"),
    "dcgan": ("keras_gen.families.gan", {"architecture": "dcgan", "loss": "non_saturating"},
              "DCGAN (Radford et al. 2016), non-saturating loss"),
    "gan": ("keras_gen.families.gan", {"architecture": "mlp", "loss": "non_saturating"},
            "MLP GAN (Goodfellow et al. 2014), minimax or non-saturating, k D steps"),
    "wgan": ("keras_gen.families.gan",
             {"architecture": "dcgan", "loss": "wasserstein", "clip_value": 0.01,
              "optimizer": "rmsprop", "g_learning_rate": 5e-5, "d_learning_rate": 5e-5,
              "n_critic": 5},
             "WGAN (Arjovsky et al. 2017): weight clipping, RMSProp 5e-5, n_critic 5"),
    "wgan_gp": ("keras_gen.families.gan",
                {"architecture": "dcgan", "loss": "wasserstein", "gradient_penalty_weight": 10.0,
                 "d_norm": "layer", "g_learning_rate": 1e-4, "d_learning_rate": 1e-4,
                 "beta_1": 0.5, "beta_2": 0.9, "n_critic": 5},
                "WGAN-GP (Gulrajani et al. 2017): gradient penalty 10, Adam 1e-4 (0.5, 0.9)"),
    "progan": ("keras_gen.families.progan", {},
               "Progressive GAN (Karras et al. 2018): G and D grown 4x4 upward, WGAN-GP, G_ema"),
    "unrolled_gan": ("keras_gen.families.gan",
                     {"architecture": "mlp", "loss": "non_saturating", "unroll_steps": 5},
                     "unrolled GAN (Metz et al. 2017): G's loss through 5 unrolled D steps"),
}


def model_names():
  return sorted(MODELS)


def describe_models():
  return "\n".join(f"  {name:<24} {MODELS[name][2]}" for name in model_names())


def get_family(name):
  """Returns (base.Family, presets) for a model name; raises ConfigError if unknown."""
  if name not in MODELS:
    raise config_lib.ConfigError(
        f"--model={name!r} is not a known model; valid models: {', '.join(model_names())}.")
  from keras_gen.families import base  # pylint: disable=g-import-not-at-top  (TensorFlow)
  module_name, presets, _ = MODELS[name]
  return base.Family.from_module(importlib.import_module(module_name)), dict(presets)


def run_config_problem(run_config):
  """None if a run's config.json dict fits TrainConfig and its model, else a phrase naming
  the wrong field."""
  for name, value in run_config.items():
    problem = config_lib.field_problem(name, value)
    if problem:
      return problem
  model = run_config.get("model")
  if model not in MODELS:
    return f"model is {model!r}, not a known model"
  family, _ = get_family(model)
  unknown = sorted(set(run_config.get("hparams", {})) - set(family.DEFAULT_HPARAMS))
  if unknown:
    return f"hparams {', '.join(unknown)} are not hyperparameters of model {model!r}"
  return None

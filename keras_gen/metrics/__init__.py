"""Metrics: a registry of name -> function, used by `python -m keras_gen.evaluate`.

A metric is `function(subject, options) -> dict[str, float]`, where `subject`
(`keras_gen.metrics.subject.Subject`) samples, encodes or reconstructs through a
checkpoint or a SavedModel export, and `options` carries the held-out data,
the number of samples and the seed. Adding a metric is one module and one line
in METRICS; the training loop and the evaluate tool call the same functions.
"""

import importlib

# name -> ("module:function", what it measures, the subject kinds it applies to)
METRICS = {
    "reconstruction": ("keras_gen.metrics.reconstruction:reconstruction_error",
                       "pixel MSE and PSNR of reconstructions of the held-out split",
                       ("autoencoder",)),
    "nll": ("keras_gen.metrics.likelihood:negative_log_likelihood",
            "VAE: IWAE-bound NLL, ELBO, KL and reconstruction terms (nats) on held-out data",
            ("autoencoder",)),
    "sparsity": ("keras_gen.metrics.sparsity:active_units",
                 "fraction of active code units on held-out data (sparse autoencoder)",
                 ("autoencoder",)),
    "denoising": ("keras_gen.metrics.denoising:denoising_error",
                  "MSE of reconstructions of corrupted held-out images vs the corrupted input's",
                  ("autoencoder",)),
    "fid": ("keras_gen.metrics.feature_metrics:fid",
            "Fréchet Inception distance to held-out images, and its real-vs-real baseline",
            ("generator", "autoencoder")),
    "kid": ("keras_gen.metrics.feature_metrics:kid",
            "kernel Inception distance (unbiased MMD^2, cubic kernel) to held-out images",
            ("generator", "autoencoder")),
    "is": ("keras_gen.metrics.feature_metrics:inception_score",
           "Inception Score of samples (and of held-out images)",
           ("generator", "autoencoder")),
    "fcd": ("keras_gen.metrics.feature_metrics:fcd",
            "Fréchet distance on the zoo's domain classifier features, and its baseline",
            ("generator", "autoencoder")),
    "classifier_score": ("keras_gen.metrics.feature_metrics:classifier_score",
                         "Inception Score formula on the domain classifier",
                         ("generator", "autoencoder")),
    "prd": ("keras_gen.metrics.precision_recall:precision_recall_metric",
            "improved precision and recall (k=3) on domain classifier features",
            ("generator", "autoencoder")),
    "swd": ("keras_gen.metrics.swd:swd",
            "sliced Wasserstein distance x1e3 per Laplacian level (Progressive GAN)",
            ("generator", "autoencoder")),
    "ms_ssim": ("keras_gen.metrics.ms_ssim:ms_ssim_metric",
                "MS-SSIM of consecutive sample pairs (diversity; lower is more diverse)",
                ("generator", "autoencoder")),
    "modes": ("keras_gen.metrics.modes:modes",
              "toy mixtures: modes covered, high-quality fraction, reverse KL (2,500 and 100,000)",
              ("points",)),
}


def metric_names():
  return sorted(METRICS)


def get_metric(name):
  if name not in METRICS:
    raise ValueError(f"Unknown metric {name!r}; valid metrics: {', '.join(metric_names())}.")
  target, _, kinds = METRICS[name]
  module_name, function_name = target.split(":")
  return getattr(importlib.import_module(module_name), function_name), kinds

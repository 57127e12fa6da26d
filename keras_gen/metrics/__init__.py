"""Metrics: a registry of name -> function(subject, options) -> dict[str, float], called by the
`evaluate` tool and at training snapshots alike; one that does not apply raises MetricSkipped."""

import importlib

from keras_gen import config as config_lib

_AUTOENCODERS = ("autoencoder",)
_IMAGE_MODELS = ("generator", "autoencoder")

# name -> ("module:function", the subject kinds it applies to); see docs/evaluation.md.
METRICS = {
    "reconstruction": ("keras_gen.metrics.reconstruction:reconstruction_error", _AUTOENCODERS),
    "nll": ("keras_gen.metrics.likelihood:negative_log_likelihood", _AUTOENCODERS),
    "sparsity": ("keras_gen.metrics.sparsity:active_units", _AUTOENCODERS),
    "denoising": ("keras_gen.metrics.denoising:denoising_error", _AUTOENCODERS),
    "fid": ("keras_gen.metrics.feature_metrics:fid", _IMAGE_MODELS),
    "kid": ("keras_gen.metrics.feature_metrics:kid", _IMAGE_MODELS),
    "is": ("keras_gen.metrics.feature_metrics:inception_score", _IMAGE_MODELS),
    "fcd": ("keras_gen.metrics.feature_metrics:fcd", _IMAGE_MODELS),
    "classifier_score": ("keras_gen.metrics.feature_metrics:classifier_score", _IMAGE_MODELS),
    "prd": ("keras_gen.metrics.precision_recall:precision_recall_metric", _IMAGE_MODELS),
    "swd": ("keras_gen.metrics.swd:swd", _IMAGE_MODELS),
    "ms_ssim": ("keras_gen.metrics.ms_ssim:ms_ssim_metric", _IMAGE_MODELS),
    "linear_probe": ("keras_gen.metrics.linear_probe:linear_probe", _IMAGE_MODELS),
    "modes": ("keras_gen.metrics.modes:modes", ("points",)),
}

# One option string goes to all of a run's metrics, so keys are checked against this union.
METRIC_OPTIONS = (
    "active_threshold", "baseline", "binarization", "classifier_path", "corruption",
    "feature_cache", "gaussian_stddev", "images_per_batch", "inception_resolution",
    "inception_weights", "iwae_samples", "kid_features", "kid_subset_size", "kid_subsets",
    "masking_fraction", "prd_features", "prd_k", "probe_batch_size", "probe_epochs", "probe_l2",
    "probe_learning_rate", "probe_train_examples", "salt_and_pepper_fraction",
    "samples_per_chunk", "score_splits")


class MetricSkipped(Exception):
  """A metric does not apply to this subject (SWD at 4x4), in one sentence; no failure."""


def check_metric_options(extra):
  unknown = sorted(set(extra) - set(METRIC_OPTIONS))
  if unknown:
    raise config_lib.ConfigError(f"Unknown --metric_options {', '.join(unknown)}; valid: "
                                 f"{', '.join(sorted(METRIC_OPTIONS))}.")


def metric_names():
  return sorted(METRICS)


def get_metric(name):
  if name not in METRICS:
    raise ValueError(f"Unknown metric {name!r}; valid metrics: {', '.join(metric_names())}.")
  target, kinds = METRICS[name]
  module_name, function_name = target.split(":")
  return getattr(importlib.import_module(module_name), function_name), kinds

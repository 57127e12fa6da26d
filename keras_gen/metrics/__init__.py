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
}


def metric_names():
  return sorted(METRICS)


def get_metric(name):
  if name not in METRICS:
    raise ValueError(f"Unknown metric {name!r}; valid metrics: {', '.join(metric_names())}.")
  target, _, kinds = METRICS[name]
  module_name, function_name = target.split(":")
  return getattr(importlib.import_module(module_name), function_name), kinds

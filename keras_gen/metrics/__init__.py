"""Metrics: a registry of name -> function, used by `python -m keras_gen.evaluate`.

A metric is `function(subject, options) -> dict[str, float]`, where `subject`
(`keras_gen.metrics.subject.Subject`) samples, encodes or reconstructs through a
checkpoint or a SavedModel export, and `options` carries the held-out data,
the number of samples and the seed. Adding a metric is one module and one line
in METRICS; the training loop and the evaluate tool call the same functions.
A metric that is not defined for a subject (images below its smallest size)
raises MetricSkipped: the results record its sentence instead of figures.
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
    "linear_probe": ("keras_gen.metrics.linear_probe:linear_probe",
                     "test accuracy of a linear classifier on frozen D / encoder features, "
                     "beside raw pixels and the same network at random init",
                     ("generator", "autoencoder")),
    "modes": ("keras_gen.metrics.modes:modes",
              "toy mixtures: modes covered, high-quality fraction, reverse KL (2,500 and 100,000)",
              ("points",)),
}

# Every --metric_options key some metric reads. One option string goes to all
# the metrics of a run, so keys are checked against this union, in one place.
METRIC_OPTIONS = {
    "active_threshold": "sparsity: h_j above this counts as active",
    "baseline": "fid/fcd/kid/swd: compute the real-vs-real baseline (true/false)",
    "binarization": "nll: dynamic or threshold",
    "classifier_path": "fcd/classifier_score/prd: the domain classifier's weights",
    "corruption": "denoising: gaussian, masking or salt_and_pepper",
    "feature_cache": "feature metrics: cache folder, or none",
    "gaussian_stddev": "denoising: level of the gaussian corruption",
    "images_per_batch": "nll: held-out images per batch",
    "inception_resolution": "fid/kid/is: Inception input size (299 for real figures)",
    "inception_weights": "fid/kid/is: a weights path, or random (tests only)",
    "iwae_samples": "nll: k importance samples",
    "kid_features": "kid: inception or classifier",
    "kid_subset_size": "kid: examples per subset",
    "kid_subsets": "kid: number of subsets",
    "masking_fraction": "denoising: level of the masking corruption",
    "prd_features": "prd: classifier or inception",
    "prd_k": "prd: the k of the k-NN radii",
    "probe_batch_size": "linear_probe: minibatch size of the classifier fit",
    "probe_epochs": "linear_probe: epochs of the classifier fit",
    "probe_l2": "linear_probe: L2 weight of the classifier",
    "probe_learning_rate": "linear_probe: learning rate of the classifier fit",
    "probe_train_examples": "linear_probe: train examples to fit on",
    "salt_and_pepper_fraction": "denoising: level of the salt-and-pepper corruption",
    "samples_per_chunk": "nll: importance samples drawn at once",
    "score_splits": "is/classifier_score: number of splits",
}


class MetricSkipped(Exception):
  """A metric does not apply to this subject; the message says why, in one sentence.

  Unlike a ConfigError it is not a failure: nothing the user passed is wrong
  (e.g. a Progressive GAN snapshot at 4x4 is below SWD's 7x7 neighbourhoods).
  """


def check_metric_options(extra):
  """Raises ValueError naming any --metric_options key no metric reads."""
  unknown = sorted(set(extra) - set(METRIC_OPTIONS))
  if unknown:
    raise ValueError(f"Unknown --metric_options {', '.join(unknown)}; valid: "
                     f"{', '.join(sorted(METRIC_OPTIONS))}.")


def metric_names():
  return sorted(METRICS)


def get_metric(name):
  if name not in METRICS:
    raise ValueError(f"Unknown metric {name!r}; valid metrics: {', '.join(metric_names())}.")
  target, _, kinds = METRICS[name]
  module_name, function_name = target.split(":")
  return getattr(importlib.import_module(module_name), function_name), kinds

"""FID, FCD, KID, Inception Score and classifier score, with real baselines (docs/evaluation.md)."""

import collections

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import metrics as metrics_lib
from keras_gen.metrics import classifier
from keras_gen.metrics import feature_cache
from keras_gen.metrics import frechet
from keras_gen.metrics import image_sets
from keras_gen.metrics import inception

FeatureSet = collections.namedtuple("FeatureSet", ["features", "logits", "description"])


# The features each metric measures on: a kind, or (the option choosing it, its default).
_FEATURES = {"fid": "inception", "is": "inception", "fcd": "classifier",
             "classifier_score": "classifier", "kid": ("kid_features", "inception"),
             "prd": ("prd_features", "classifier")}


def feature_kind(metric, extra):
  """"inception", "classifier" or None: the features `metric` uses with these options."""
  kind = _FEATURES.get(metric)
  return extra.get(*kind) if isinstance(kind, tuple) else kind


def check_extractors_exist(metric_names, extra, dataset):
  """ConfigError, as the first snapshot would give it, when a metric's extractor is missing."""
  for name in metric_names:
    kind = feature_kind(name, extra)
    if kind == "inception":
      inception.resolve_weights(extra.get("inception_weights", ""))
    elif kind == "classifier":
      try:
        domain = data.domain(dataset)
      except data.DataError:
        continue  # A dataset that is missing is named when training loads it.
      classifier.resolve_path(domain, extra.get("classifier_path", ""))


def get_extractor(kind, options, metric):
  """"inception" or "classifier" -> its extractor, configured from the options."""
  if kind == "inception":
    return inception.load_extractor(options.extra.get("inception_weights", ""),
                                    image_sets.int_option(options, "inception_resolution",
                                                          inception.RESOLUTION))
  if kind == "classifier":
    try:
      domain = data.domain(options.held_out.name)
    except data.DataError as e:
      raise config_lib.ConfigError(str(e)) from e
    extractor = classifier.load_extractor(domain, options.extra.get("classifier_path", ""))
    if (options.box_filtered_from is not None
        and extractor.input_shape != tuple(options.held_out.element_shape)):
      # Resampling a lower level back up would feed it images it never learned from.
      held, known = options.held_out.element_shape, extractor.input_shape
      raise metrics_lib.MetricSkipped(
          f"{metric} skipped at {held[0]}x{held[1]}: the domain classifier learned from "
          f"{known[0]}x{known[1]} images and has no features for a lower level's.")
    extractor.check_images(options.held_out.examples[:1], f"{options.held_out.name} images")
    return extractor
  raise config_lib.ConfigError(
      f"--metric_options for {metric!r}: features {kind!r} are not one of inception, classifier.")


def _real_set(extractor, examples, dataset, split, options, description):
  features, logits, _ = feature_cache.real_features(extractor, examples, dataset, split, options)
  return FeatureSet(features, logits, description)


def real_and_generated(subject, options, extractor, metric):
  """(held-out FeatureSet, generated FeatureSet) through the extractor."""
  held_out = options.held_out
  real = _real_set(extractor, image_sets.held_out_examples(options, metric), held_out.name,
                   held_out.split, options, f"{held_out.name} {held_out.split} split")
  generated = FeatureSet(
      *extractor.features(image_sets.generated_batches(subject, options, metric)), "samples")
  return real, generated


def baseline_set(options, extractor, count):
  """The real-vs-real baseline's second set, or (None, reason) when there is none."""
  if options.extra.get("baseline", "1") in ("0", "false", "False"):
    return None, "turned off by --metric_options=baseline=0"
  examples, description, split = image_sets.baseline_examples(options, count)
  if examples is None:
    return None, description
  return _real_set(extractor, examples, options.held_out.name, split, options, description), None


def _frechet_between(left, right):
  return frechet.frechet_distance_of_features(left.features, right.features)


def _frechet_metric(subject, options, kind, name):
  extractor = get_extractor(kind, options, name)
  real, generated = real_and_generated(subject, options, extractor, name)
  return _with_baseline({name: _frechet_between(real, generated)}, name, options, extractor,
                        real, generated, _frechet_between)


def _with_baseline(results, name, options, extractor, real, generated, distance):
  """`results` plus set sizes, extractor and NAME_real_baseline (or why there is none)."""
  results.update(num_samples=len(generated.features), num_real=len(real.features),
                 feature_extractor=extractor.description)
  baseline, reason = baseline_set(options, extractor, len(real.features))
  if baseline is not None:
    results[f"{name}_real_baseline"] = distance(real, baseline)
  results["baseline_set"] = baseline.description if baseline is not None else f"none: {reason}"
  return results


def fid(subject, options):
  """Fréchet distance of Inception-v3 pool features (Heusel et al. 2017)."""
  return _frechet_metric(subject, options, "inception", "fid")


def fcd(subject, options):
  """FCD: the Fréchet distance on the domain classifier's 128-d features."""
  return _frechet_metric(subject, options, "classifier", "fcd")


def kid(subject, options):
  """KID (unbiased MMD^2, cubic polynomial kernel), mean and std over subsets."""
  extractor = get_extractor(feature_kind("kid", options.extra), options, "kid")
  real, generated = real_and_generated(subject, options, extractor, "kid")
  num_subsets = image_sets.int_option(options, "kid_subsets", 100)
  subset_size = image_sets.int_option(options, "kid_subset_size", 1000)
  value, spread = frechet.kernel_distance(real.features, generated.features, num_subsets,
                                          subset_size, options.seed)
  results = {"kid": value, "kid_std": spread, "num_subsets": num_subsets,
             "subset_size": min(subset_size, len(real.features), len(generated.features))}
  return _with_baseline(results, "kid", options, extractor, real, generated,
                        lambda real, baseline: frechet.kernel_distance(
                            real.features, baseline.features, num_subsets, subset_size,
                            options.seed)[0])


def _score_metric(subject, options, kind, name):
  extractor = get_extractor(kind, options, name)
  _, logits = extractor.features(image_sets.generated_batches(subject, options, name))
  num_splits = image_sets.int_option(options, "score_splits", 10)
  mean, spread = frechet.inception_score(logits, num_splits)
  results = {name: mean, f"{name}_std": spread, "num_splits": num_splits,
             "num_samples": len(logits), "feature_extractor": extractor.description}
  real = _real_set(extractor, image_sets.held_out_examples(options, name), options.held_out.name,
                   options.held_out.split, options, "")
  results[f"{name}_real"], _ = frechet.inception_score(real.logits, num_splits)
  return results


def inception_score(subject, options):
  """Inception Score of samples (mean and std over 10 splits), and of held-out images."""
  return _score_metric(subject, options, "inception", "inception_score")


def classifier_score(subject, options):
  """The Inception Score formula on the domain classifier, for samples and held-out images."""
  return _score_metric(subject, options, "classifier", "classifier_score")

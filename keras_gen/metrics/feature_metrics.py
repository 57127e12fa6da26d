"""FID, FCD, KID, Inception Score and classifier score, with real baselines (docs/evaluation.md)."""

import functools

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import metrics as metrics_lib
from keras_gen.metrics import classifier
from keras_gen.metrics import feature_cache
from keras_gen.metrics import frechet
from keras_gen.metrics import image_sets
from keras_gen.metrics import inception


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


def _real_features(extractor, examples, split, options):
  """(features, logits) of uint8 images of the held-out dataset's `split`, through the cache."""
  return feature_cache.real_features(extractor, examples, options.held_out.name, split,
                                     options)[:2]


def real_and_generated(subject, options, metric):
  """(extractor, held-out features [N, F], sample features [M, F]) for `metric`."""
  extractor = get_extractor(feature_kind(metric, options.extra), options, metric)
  real, _ = _real_features(extractor, image_sets.held_out_examples(options, metric),
                           options.held_out.split, options)
  generated, _ = extractor.features(image_sets.generated_batches(subject, options, metric))
  return extractor, real, generated


def _with_baseline(results, name, options, extractor, real, generated, distance):
  """`results` plus set sizes, extractor and NAME_real_baseline (or why there is none)."""
  results.update(num_samples=len(generated), num_real=len(real),
                 feature_extractor=extractor.description)
  if options.extra.get("baseline", "1") in ("0", "false", "False"):
    examples, description = None, "turned off by --metric_options=baseline=0"
  else:
    examples, description, split = image_sets.baseline_examples(options, len(real))
  if examples is not None:
    baseline, _ = _real_features(extractor, examples, split, options)
    results[f"{name}_real_baseline"] = distance(real, baseline)
  results["baseline_set"] = description if examples is not None else f"none: {description}"
  return results


def _frechet_metric(subject, options, name):
  extractor, real, generated = real_and_generated(subject, options, name)
  distance = frechet.frechet_distance_of_features
  return _with_baseline({name: distance(real, generated)}, name, options, extractor, real,
                        generated, distance)


def kid(subject, options):
  """KID (unbiased MMD^2, cubic polynomial kernel), mean and std over subsets."""
  extractor, real, generated = real_and_generated(subject, options, "kid")
  num_subsets = image_sets.int_option(options, "kid_subsets", 100)
  subset_size = image_sets.int_option(options, "kid_subset_size", 1000)
  value, spread = frechet.kernel_distance(real, generated, num_subsets, subset_size, options.seed)
  results = {"kid": value, "kid_std": spread, "num_subsets": num_subsets,
             "subset_size": min(subset_size, len(real), len(generated))}
  return _with_baseline(results, "kid", options, extractor, real, generated,
                        lambda real, baseline: frechet.kernel_distance(
                            real, baseline, num_subsets, subset_size, options.seed)[0])


def _score_metric(subject, options, kind, name):
  extractor = get_extractor(kind, options, name)
  _, logits = extractor.features(image_sets.generated_batches(subject, options, name))
  num_splits = image_sets.int_option(options, "score_splits", 10)
  mean, spread = frechet.inception_score(logits, num_splits)
  results = {name: mean, f"{name}_std": spread, "num_splits": num_splits,
             "num_samples": len(logits), "feature_extractor": extractor.description}
  _, real_logits = _real_features(extractor, image_sets.held_out_examples(options, name),
                                  options.held_out.split, options)
  results[f"{name}_real"], _ = frechet.inception_score(real_logits, num_splits)
  return results


# Fréchet distance of Inception-v3 pool features (Heusel et al. 2017), and FCD: the same on the
# domain classifier's 128-d features.
fid = functools.partial(_frechet_metric, name="fid")
fcd = functools.partial(_frechet_metric, name="fcd")
# The Inception Score of samples (mean and std over 10 splits) and of held-out images, and the
# classifier score: the same formula on the domain classifier.
inception_score = functools.partial(_score_metric, kind="inception", name="inception_score")
classifier_score = functools.partial(_score_metric, kind="classifier", name="classifier_score")

"""Runs registered metrics on a subject and writes the results JSON."""

import contextlib
import functools
import json
import os
import time

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import machine
from keras_gen import metrics as metrics_lib
from keras_gen import registry
from keras_gen import storage
from keras_gen.metrics import feature_metrics
from keras_gen.metrics import image_sets
from keras_gen.metrics import subject as subject_lib


def evaluate(model_dir="", saved_model="", metric_names=(), dataset="", data_dir="",
             split="test", num_samples=5000, seed=0, output="", extra=None, pretrained="",
             step=None):
  """Evaluates a checkpoint (the newest, or `step`'s), an export or a pretrained model."""
  config_lib.check_model_source(model_dir, saved_model, pretrained, step)
  functions = _metric_functions(metric_names)
  if pretrained:
    from keras_gen import pretrained as pretrained_lib  # pylint: disable=g-import-not-at-top
    subject = subject_lib.from_run(pretrained_lib.load_run(pretrained))
    source = subject.run.checkpoint_path
    output = output or os.path.join(
        "eval", f"{os.path.basename(os.path.normpath(source))}_step{subject.metadata['step']}.json")
  else:
    subject = (subject_lib.from_model_dir(model_dir, step) if model_dir
               else subject_lib.from_saved_model(saved_model))
    source = model_dir or saved_model
  output = output or _default_output(model_dir, saved_model, subject.metadata["step"])
  # Before the metrics run, which may take an hour, not after.
  storage.check_writable(os.path.dirname(output) or ".",
                         "pass --output=PATH to write the results elsewhere")
  return evaluate_subject(subject, functions, source, dataset, data_dir, split, num_samples, seed,
                          output, extra)


def evaluate_networks(family, networks, config, step, metric_names, num_samples=5000, seed=0,
                      extra=None, family_state=None):
  """Evaluates networks in memory, as at a snapshot, into MODEL_DIR/eval/stepNNNNNNN.json."""
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  subject = subject_lib.from_run(restore.RestoredRun(config, family, networks, int(step), "",
                                                     family_state))
  output = _default_output(config.model_dir, "", int(step))
  return evaluate_subject(subject, _metric_functions(metric_names), config.model_dir, "", "",
                          "test", num_samples, seed, output, extra)


@contextlib.contextmanager
def fresh_functions_expected():
  """Drops TensorFlow's retracing warning within: each snapshot traces fresh functions."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def no_retracing_warning(record):
    return "triggered tf.function retracing" not in record.getMessage()

  tf.get_logger().addFilter(no_retracing_warning)
  try:
    yield
  finally:
    tf.get_logger().removeFilter(no_retracing_warning)


class SnapshotMetrics:
  """The loop's `Snapshot`: --metrics at checkpoints, as `evaluate --model_dir` gives them."""

  def check(self, config):
    _metric_functions(config.metrics)
    metrics_lib.check_metric_options(config.metric_options)
    feature_metrics.check_extractors_exist(config.metrics, config.metric_options, config.dataset)

  def __call__(self, config, family, networks, family_state, step):
    """Returns ({"metric/key": number}, [why a metric was skipped])."""
    with fresh_functions_expected():
      results = evaluate_networks(family, networks, config, step, config.metrics,
                                  num_samples=config.metric_samples, seed=config.seed,
                                  extra=config.metric_options, family_state=family_state)
    values = {f"{name}/{key}": value for name, metric in results["metrics"].items()
              for key, value in metric.items() if key != "seconds"
              and isinstance(value, (int, float)) and not isinstance(value, bool)}
    notes = [metric["skipped"] for metric in results["metrics"].values() if "skipped" in metric]
    return values, notes


def _metric_functions(metric_names):
  if not metric_names:
    raise config_lib.ConfigError(f"--metrics is empty; valid metrics: "
                                 f"{', '.join(metrics_lib.metric_names())}.")
  try:
    return {name: metrics_lib.get_metric(name) for name in metric_names}
  except ValueError as e:
    raise config_lib.ConfigError(f"--metrics: {e}") from e


def evaluate_subject(subject, functions, source, dataset, data_dir, split, num_samples, seed,
                     output, extra):
  """Runs {name: (function, kinds)} on a subject, writes `output`; ConfigErrors are raised last."""
  metrics_lib.check_metric_options(extra or {})
  for name, (_, kinds) in functions.items():
    if subject.kind not in kinds:
      raise config_lib.ConfigError(f"Metric {name!r} applies to {' or '.join(kinds)} models, not "
                                   f"to {subject.metadata['model']!r} ({subject.kind}).")
  dataset = dataset or subject.metadata["dataset"]
  run_config = subject.metadata.get("config", {})
  load_split = functools.partial(data.load, dataset,
                                 data_dir=data_dir or run_config.get("data_dir") or None,
                                 resolution=run_config.get("resolution") or None, seed=seed)
  stored = data.stored_resolutions(dataset)
  if stored is not None:
    # Its one split may outgrow memory; metrics read num_samples, the baseline as many more.
    load_split = functools.partial(load_split, limit=2 * num_samples)
  held_out, load_split, box_filtered_from = _reals_at_level(subject, stored, load_split, split)
  train = held_out if split == "train" else None
  if train is None and any(getattr(function, "needs_train_split", False)
                           for function, _ in functions.values()):
    train = load_split("train")  # E.g. linear_probe fits on the train split's labels.
  options = subject_lib.Options(held_out=held_out, train=train, num_samples=num_samples,
                                seed=seed, extra=dict(extra or {}), load_split=load_split,
                                box_filtered_from=box_filtered_from,
                                batch_size=image_sets.stream_batch_size(held_out.element_shape))
  results = {"model": subject.metadata["model"], "step": subject.metadata["step"],
             "source": source, "dataset": dataset, "split": split, "seed": seed,
             "num_samples": num_samples, "metric_options": dict(extra or {}), "metrics": {}}
  if box_filtered_from is not None:
    results["real_images_box_filtered_from"] = list(box_filtered_from)
  failures = {}
  other_load = machine.OtherLoad().start()
  for name, (function, _) in functions.items():
    started = time.perf_counter()
    try:
      values = function(subject, options)
    except metrics_lib.MetricSkipped as e:
      values = {"skipped": str(e)}
    except config_lib.ConfigError as e:
      # E.g. Inception weights that cannot be downloaded: the other metrics still count.
      failures[name] = str(e)
      values = {"error": str(e)}
    values["seconds"] = round(time.perf_counter() - started, 2)
    results["metrics"][name] = values
  results["machine"] = dict(machine.describe(), other_load_cores=other_load.stop())
  try:
    storage.write_atomically(output, json.dumps(results, indent=2, sort_keys=True))
  except OSError as error:
    raise storage.StorageError(f"Cannot write the results {output} ({error.strerror}); pass "
                               f"--output=PATH to write them elsewhere.") from error
  results["output"] = output
  if failures:
    raise config_lib.ConfigError(_failures_sentence(failures, len(functions), output))
  return results


def _failures_sentence(failures, metric_count, output):
  """Each failure's message once (naming its metrics if several failed), then the output."""
  by_message = {}
  for name, message in failures.items():
    by_message.setdefault(message, []).append(name)
  text = (next(iter(by_message)) if len(failures) == 1 else
          " ".join(f"{', '.join(names)}: {message}" for message, names in by_message.items()))
  others = ("The other metrics' results are in" if len(failures) < metric_count
            else "The errors are recorded in")
  return f"{text} {others} {output}."


def _reals_at_level(subject, stored_resolutions, load_split, split):
  """(held-out Source, load_split, box_filtered_from) at a growing model's level: read from a
  multi-resolution dataset (`stored_resolutions` ascending) or box-filtered down to it."""
  family, _ = registry.get_family(subject.metadata["model"])
  resolution = subject.metadata.get("resolution")
  if family.resolutions is None or not resolution:
    return load_split(split), load_split, None
  if stored_resolutions and resolution in stored_resolutions[:-1]:
    top = stored_resolutions[-1]
    load_level = functools.partial(load_split, resolution=resolution)
    held_out = load_level(split)
    return held_out, load_level, (top, top, held_out.element_shape[2])
  held_out = load_split(split)
  if held_out.kind != "images" or resolution >= held_out.element_shape[0]:
    return held_out, load_split, None
  return (_box_filter(held_out, resolution),
          lambda split: _box_filter(load_split(split), resolution), tuple(held_out.element_shape))


def _box_filter(source, resolution):
  try:
    return image_sets.box_filtered(source, resolution)
  except ValueError as e:
    raise config_lib.ConfigError(
        f"Dataset {source.name!r} holds {'x'.join(map(str, source.element_shape))} images, which "
        f"cannot be box-filtered down to the model's {resolution}x{resolution} level; evaluate "
        f"against its multi-resolution dataset (--dataset=progan:FOLDER).") from e


def _default_output(model_dir, saved_model, step):
  if model_dir:
    return os.path.join(model_dir, "eval", f"step{step:07d}.json")
  return os.path.join(os.path.dirname(os.path.abspath(saved_model)), f"eval_step{step}.json")


def format_table(results):
  lines = [f"{results['model']} step {results['step']} on {results['dataset']}/{results['split']}"]
  for metric, values in results["metrics"].items():
    for key, value in values.items():
      text = f"{value:.6g}" if isinstance(value, float) else str(value)
      lines.append(f"  {metric:<16} {key:<24} {text}")
  lines.append(f"On {machine.summary(results['machine'])}; "
               f"{machine.load_note(results['machine']['other_load_cores'])}.")
  return "\n".join(lines)

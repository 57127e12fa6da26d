"""Features of real images, cached on disk between evaluations.

A cache file holds the features (and logits) an extractor computed for the
first N images of one dataset split:

  CACHE_DIR/<dataset>-<split>-<H>x<W>x<C>-<extractor>-n<N>-<hash>.npz

where the hash covers the extractor's weights and the image bytes themselves,
so a changed dataset or a retrained classifier never reuses stale features.
CACHE_DIR is `--metric_options=feature_cache=DIR`, by default
$KERAS_GEN_HOME/cache/features (~/.keras_gen/cache/features);
`feature_cache=none` turns caching off. Extractors with random weights (tests)
are never cached.
"""

import hashlib
import json
import os
import re

import numpy as np

from keras_gen.metrics import classifier
from keras_gen.metrics import image_sets


def cache_dir(options):
  """The cache folder from the options, or None when caching is off."""
  folder = options.extra.get("feature_cache", "")
  if folder.lower() == "none":
    return None
  return folder or os.path.join(classifier.keras_gen_home(), "cache", "features")


def _slug(text):
  return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[-60:]


def cache_path(folder, dataset, split, images, extractor):
  """The file for uint8 images [N, H, W, C] of a dataset split through an extractor.

  The name spells out the key; its hash also covers the extractor's weights
  (`extractor.cache_key`) and the image bytes.
  """
  digest = hashlib.sha1(json.dumps(
      [dataset, split, list(images.shape), extractor.cache_key]).encode())
  digest.update(str(images.dtype).encode())
  digest.update(np.ascontiguousarray(images).tobytes())
  height, width, channels = images.shape[1:]
  name = (f"{_slug(dataset)}-{split}-{height}x{width}x{channels}-{_slug(extractor.name)}"
          f"-n{len(images)}-{digest.hexdigest()[:12]}.npz")
  return os.path.join(folder, name)


def real_features(extractor, examples, dataset, split, options):
  """The extractor's (features, logits) of real images, read from or written to the cache.

  examples: uint8 [N, H, W, C] of a real dataset split, converted to [-1, 1]
  one `options.batch_size` batch at a time. Returns (features, logits,
  whether they came from the cache).
  """
  folder = cache_dir(options)
  if folder is None or extractor.cache_key is None:
    return (*_features(extractor, examples, options), False)
  path = cache_path(folder, dataset, split, examples, extractor)
  if os.path.exists(path):
    try:
      with np.load(path) as cached:
        return cached["features"], cached["logits"], True
    except (OSError, ValueError, KeyError):
      pass  # A damaged cache file is recomputed and replaced below.
  features, logits = _features(extractor, examples, options)
  os.makedirs(folder, exist_ok=True)
  partial = f"{path}.partial-{os.getpid()}"
  with open(partial, "wb") as f:
    np.savez(f, features=features, logits=logits)
  os.replace(partial, path)
  return features, logits, False


def _features(extractor, examples, options):
  return extractor.features(image_sets.float_batches(examples, options.batch_size))

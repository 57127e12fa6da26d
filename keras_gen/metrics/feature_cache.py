"""Features of real images, cached on disk between evaluations (docs/evaluation.md)."""

import hashlib
import json
import os

import numpy as np

from keras_gen.metrics import classifier
from keras_gen.metrics import image_sets


def cache_path(folder, dataset, split, images, extractor):
  """The file for uint8 [N, H, W, C] through `extractor`; its hash covers weights and pixels."""
  digest = hashlib.sha1(json.dumps(
      [dataset, split, list(images.shape), extractor.cache_key]).encode())
  digest.update(str(images.dtype).encode())
  digest.update(np.ascontiguousarray(images).tobytes())
  height, width, channels = images.shape[1:]
  name = (f"{classifier.slug(dataset)[-60:]}-{split}-{height}x{width}x{channels}-"
          f"{classifier.slug(extractor.name)[-60:]}-n{len(images)}-{digest.hexdigest()[:12]}.npz")
  return os.path.join(folder, name)


def real_features(extractor, examples, dataset, split, options):
  """(features, logits, whether cached) of uint8 [N, H, W, C] real images, through the cache
  (--metric_options=feature_cache=FOLDER, or none to turn it off)."""
  folder = (options.extra.get("feature_cache", "")
            or os.path.join(classifier.keras_gen_home(), "cache", "features"))
  batches = image_sets.float_batches(examples, options.batch_size)  # Read on a cache miss only.
  if folder.lower() == "none" or extractor.cache_key is None:
    return (*extractor.features(batches), False)
  path = cache_path(folder, dataset, split, examples, extractor)
  if os.path.exists(path):
    try:
      with np.load(path) as cached:
        return cached["features"], cached["logits"], True
    except (OSError, ValueError, KeyError):
      pass  # A damaged cache file is recomputed and replaced below.
  features, logits = extractor.features(batches)
  os.makedirs(folder, exist_ok=True)
  partial = f"{path}.partial-{os.getpid()}"
  with open(partial, "wb") as f:
    np.savez(f, features=features, logits=logits)
  os.replace(partial, path)
  return features, logits, False

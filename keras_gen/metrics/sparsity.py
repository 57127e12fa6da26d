"""How sparse an autoencoder's code is on held-out images."""

import numpy as np
import tensorflow as tf


def active_units(subject, options):
  """Fraction of code units with h_j > active_threshold on held-out images; units never active."""
  hparams = subject.metadata.get("config", {}).get("hparams", {})
  threshold = float(options.extra.get("active_threshold", hparams.get("active_threshold", 0.0)))
  examples = options.held_out.examples[:options.num_samples]
  encode = subject.signatures["encode"]
  codes = [encode(images=tf.constant(examples[start:start + 256]))["code"].numpy()
           for start in range(0, len(examples), 256)]
  active = np.concatenate(codes) > threshold
  return {"active_fraction": float(active.mean()),
          "units_never_active": int((~active.any(axis=0)).sum()),
          "code_units": int(active.shape[1]), "active_threshold": threshold,
          "num_images": int(len(examples))}

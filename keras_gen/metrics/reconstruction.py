"""Reconstruction error of autoencoders on held-out images."""

import numpy as np

from keras_gen import data


def reconstruction_error(subject, options):
  """Pixel MSE on [0, 1] and PSNR in dB (peak 1) of the held-out split's uint8 reconstructions."""
  images = data.from_uint8(options.held_out.examples[:options.num_samples]).numpy()
  reconstructions = subject.reconstruct(images)
  squared = np.square((reconstructions - images) / 2.0).reshape(len(images), -1).mean(axis=1)
  return {"mse": float(squared.mean()),
          "psnr_db": float(np.mean(10.0 * np.log10(1.0 / np.maximum(squared, 1e-10)))),
          "num_images": int(len(images))}

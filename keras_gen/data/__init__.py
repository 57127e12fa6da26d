"""Data for keras_gen: sources loaded into memory and the tf.data input pipeline.

  source = data.load("fashion_mnist", split="train")
  dataset = strategy.distribute_datasets_from_function(
      data.input_fn(source, global_batch_size=256, seed=0, start_step=step))
"""

from keras_gen.data.errors import DataError
from keras_gen.data.mixtures import mixture_modes
from keras_gen.data.mixtures import mixture_std
from keras_gen.data.pipeline import input_fn
from keras_gen.data.pixels import from_uint8
from keras_gen.data.pixels import to_uint8
from keras_gen.data.sources import dataset_names
from keras_gen.data.sources import describe_datasets
from keras_gen.data.sources import domain
from keras_gen.data.sources import has_test_split
from keras_gen.data.sources import load
from keras_gen.data.sources import Source
from keras_gen.data.sources import stored_resolutions

__all__ = [
    "DataError",
    "Source",
    "dataset_names",
    "describe_datasets",
    "domain",
    "from_uint8",
    "has_test_split",
    "input_fn",
    "load",
    "mixture_modes",
    "mixture_std",
    "to_uint8",
]

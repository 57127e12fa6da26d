"""Data for keras_gen: `load(name, split)` gives a Source in memory, `input_fn` its batches."""

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

__all__ = ["DataError", "Source", "dataset_names", "describe_datasets", "domain", "from_uint8",
           "has_test_split", "input_fn", "load", "mixture_modes", "mixture_std", "to_uint8"]

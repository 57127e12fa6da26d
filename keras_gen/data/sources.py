"""Every dataset keras_gen trains on, by name (`describe_datasets`), loaded whole into memory:
uint8 images [N, H, W, C], float32 points [N, 2], int64 labels [N] (docs/data.md)."""

import dataclasses
import numbers
from typing import Callable

import numpy as np

from keras_gen.data import files
from keras_gen.data import mixtures
from keras_gen.data import tfrecords
from keras_gen.data.errors import DataError

SPLITS = ("train", "test")

DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

# Folders hold images of any size, so they need a resolution.
DEFAULT_FOLDER_RESOLUTION = 64

_IDX_FILES = ("pass --data_dir with the IDX files (train-images-idx3-ubyte[.gz], "
              "train-labels-idx1-ubyte[.gz], t10k-...)")


@dataclasses.dataclass(frozen=True, eq=False)
class Source:
  """One split of a dataset: uint8 images [N, H, W, C] (C = 1 or 3) or float32 points [N, 2]."""
  # eq=False: the generated __eq__ would compare numpy arrays elementwise and raise.

  name: str
  kind: str
  examples: np.ndarray
  labels: np.ndarray | None
  split: str

  def __post_init__(self):
    shape, dtype = self.examples.shape, self.examples.dtype
    if self.kind == "images":
      if dtype != np.uint8 or len(shape) != 4 or shape[-1] not in (1, 3):
        raise DataError(f"Dataset {self.name!r} has images of dtype {dtype} and shape {shape}; "
                        f"expected uint8 [N, H, W, C] with C = 1 or 3.")
    elif self.kind == "points":
      if dtype != np.float32 or len(shape) != 2 or shape[-1] != 2:
        raise DataError(f"Dataset {self.name!r} has points of dtype {dtype} and shape {shape}; "
                        f"expected float32 [N, 2].")
    else:
      raise DataError(f"Dataset {self.name!r} has kind {self.kind!r}; expected 'images' or "
                      "'points'.")
    if shape[0] == 0:
      raise DataError(f"Dataset {self.name!r} ({self.split}) has no examples.")
    if self.labels is not None and (self.labels.dtype != np.int64
                                    or self.labels.shape != (shape[0],)):
      raise DataError(f"Dataset {self.name!r} has labels of dtype {self.labels.dtype} and shape "
                      f"{self.labels.shape}; expected int64 [{shape[0]}].")

  @property
  def element_shape(self) -> tuple:
    """(H, W, C) for images, (2,) for points."""
    return self.examples.shape[1:]


@dataclasses.dataclass(frozen=True)
class _Dataset:
  kind: str
  description: str
  # loader(argument=, split=, data_dir=, resolution=, seed=, limit=) -> (examples, labels).
  loader: Callable
  # A --resolution above the images' own: "resize" (bilinear) or "pad" (a black canvas).
  enlarge: str = "resize"
  # A folder, an archive or a progan: folder is one split: "test" returns the train images.
  one_split: bool = False


def _check_data_dir(data_dir):
  """Names --data_dir itself when it is no readable folder, not as one holding no files."""
  if data_dir is not None:
    files.check_folder(data_dir, f"--data_dir={data_dir}")


def _load_idx(name, how_to_provide, from_debian=False):
  """A loader of IDX files from --data_dir, else (from_debian) Debian's, else a tfds copy."""
  def loader(split, data_dir, **_):
    _check_data_dir(data_dir)
    if data_dir is not None:
      return files.read_idx_dataset(data_dir, split)
    if from_debian and files.has_idx_dataset(DEBIAN_FASHION_MNIST_DIR, split):
      return files.read_idx_dataset(DEBIAN_FASHION_MNIST_DIR, split)
    return _load_tfds(name, split, data_dir=None, how_to_provide=how_to_provide)
  return loader


def _load_tfds_by_name(argument, split, data_dir, **_):
  if not argument:
    raise DataError("Dataset name 'tfds:' needs a tfds name, e.g. 'tfds:cifar10'.")
  _check_data_dir(data_dir)
  return _load_tfds(argument, split, data_dir)


def _load_folder(argument, resolution, **_):  # A folder is one split.
  if not argument:
    raise DataError("Dataset name 'folder:' needs a path, e.g. 'folder:/data/faces'.")
  return files.read_image_folder(argument, resolution or DEFAULT_FOLDER_RESOLUTION), None


def _load_npz(argument, **_):  # An archive is one split.
  if not argument:
    raise DataError("Dataset name 'npz:' needs a path, e.g. 'npz:/data/faces.npz'.")
  return files.read_npz(argument)


def _load_progan(argument, resolution, limit, **_):  # A dataset folder is one split.
  # Read lazily, with the limit: a 1024x1024 level of 30,000 images is 94 GB.
  levels = _progan_levels(argument)
  level = max(levels)
  if resolution is not None and resolution.bit_length() - 1 in levels:
    level = resolution.bit_length() - 1
  return tfrecords.read_level(argument, level, limit)


def _progan_levels(argument):
  if not argument:
    raise DataError("Dataset name 'progan:' needs a path, e.g. 'progan:/data/celeba_hq'.")
  return tfrecords.level_files(argument)


_DATASETS = {
    "fashion_mnist": _Dataset(
        "images", "Fashion-MNIST, 28x28 grey clothing, 10 classes, 60k train / 10k test (IDX "
        "files in --data_dir, the Debian package, or tfds); --resolution=32 zero-pads to 32x32",
        _load_idx("fashion_mnist", f"{_IDX_FILES} or install them with `apt-get install "
                  "dataset-fashion-mnist`", from_debian=True), enlarge="pad"),
    "mnist": _Dataset(
        "images", "MNIST digits, 28x28 grey, 10 classes, 60k train / 10k test (IDX files in "
        "--data_dir, or tfds); --resolution=32 zero-pads to 32x32",
        _load_idx("mnist", _IDX_FILES), enlarge="pad"),
    "cifar10": _Dataset(
        "images", "CIFAR-10, 32x32 RGB, 10 classes, 50k train / 10k test (tfds)",
        lambda split, data_dir, **_: _load_tfds_by_name("cifar10", split, data_dir)),
    "ring8": _Dataset(
        "points", "8 Gaussians on a circle of radius 2, std 0.02 (2-D points, labels are mode "
        "indices)", lambda split, seed, **_: mixtures.sample_mixture("ring8", split, seed)),
    "grid25": _Dataset(
        "points", "25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (2-D points, labels are "
        "mode indices)", lambda split, seed, **_: mixtures.sample_mixture("grid25", split, seed)),
}

_PREFIXED_DATASETS = {
    "tfds:NAME": _Dataset(
        "images", "any tfds image dataset with an 'image' feature that fits in memory, from a "
        "prepared copy in --data_dir or tfds' default dir", _load_tfds_by_name),
    "folder:PATH": _Dataset(
        "images", "every .png/.jpg/.jpeg/.bmp/.gif under PATH, centre-cropped and resized to "
        "--resolution (default 64)", _load_folder, one_split=True),
    "npz:PATH": _Dataset(
        "images", "a .npz with uint8 'images' (or 'x') [N, H, W(, C)] and optional 'labels' "
        "(or 'y')", _load_npz, one_split=True),
    "progan:PATH": _Dataset(
        "images", "a multi-resolution TFRecord folder (tools/dataset_tool.py or the original "
        "ProGAN tool); loads its top level, phased models stream every level", _load_progan,
        one_split=True),
}


def dataset_names() -> list[str]:
  """Every valid dataset name; prefixed forms appear as e.g. 'folder:PATH'."""
  return [*_DATASETS, *_PREFIXED_DATASETS]


def describe_datasets() -> str:
  """One line per dataset name saying what it is, for --help."""
  datasets = {**_DATASETS, **_PREFIXED_DATASETS}
  width = max(map(len, datasets))
  return "\n".join(f"{name:<{width}}  {dataset.description}" for name, dataset in datasets.items())


def stored_resolutions(name: str) -> list[int] | None:
  """The sides a progan:PATH dataset stores, ascending; None for other datasets."""
  dataset, argument = _lookup(name)
  if dataset.loader is not _load_progan:
    return None
  return [2 ** level for level in sorted(_progan_levels(argument))]


def domain(name: str) -> str:
  """The dataset whose FCD classifier fits `name`: a progan: folder's "domain", else `name`."""
  dataset, argument = _lookup(name)
  if dataset.loader is not _load_progan:
    return name
  _progan_levels(argument)
  return tfrecords.read_metadata(argument).get("domain") or name


def has_test_split(name: str) -> bool:
  """False for one-split datasets (a folder, an npz archive, a progan: folder)."""
  return not _lookup(name)[0].one_split


def load(name: str, split: str = "train", data_dir: str | None = None,
         resolution: int | None = None, seed: int = 0, limit: int | None = None) -> Source:
  """One split ("train" or "test") of dataset `name` as a `Source`: images centre-cropped and
  resized to `resolution`, and only the first `limit` examples, when given."""
  dataset, argument = _lookup(name)
  if split not in SPLITS:
    raise DataError(f"Split {split!r} of dataset {name!r} is not one of {list(SPLITS)}.")
  if resolution is not None:
    if not isinstance(resolution, numbers.Integral) or resolution < 1:
      raise DataError(f"Resolution {resolution!r} for dataset {name!r} is not a positive integer.")
    resolution = int(resolution)
  if limit is not None and (not isinstance(limit, numbers.Integral) or limit < 1):
    raise DataError(f"Limit {limit!r} for dataset {name!r} is not a positive integer.")
  examples, labels = dataset.loader(argument=argument, split=split, data_dir=data_dir,
                                    resolution=resolution, seed=seed, limit=limit)
  if limit is not None:
    examples = examples[:limit]
    labels = None if labels is None else labels[:limit]
  if dataset.kind == "images" and resolution is not None:
    examples = files.crop_and_resize(examples, resolution, enlarge=dataset.enlarge)
  return Source(name=name, kind=dataset.kind, examples=examples, labels=labels, split=split)


def _lookup(name: str) -> tuple[_Dataset, str]:
  if name in _DATASETS:
    return _DATASETS[name], ""
  for form, dataset in _PREFIXED_DATASETS.items():
    prefix = form[:form.index(":") + 1]  # "folder:PATH" -> "folder:"
    if name.startswith(prefix):
      return dataset, name[len(prefix):]
  raise DataError(f"Dataset {name!r} is unknown; valid names are {', '.join(dataset_names())}.")


def _load_tfds(name: str, split: str, data_dir: str | None,
               how_to_provide: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
  """A tfds split in memory: (uint8 images [N, H, W, C], int64 labels or None)."""
  # Slow to import, and only these sources need it.
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  how_to_provide = how_to_provide or (f"prepare it on a machine with network access (`tfds "
                                      f"build {name}`) and pass that data dir as --data_dir")
  load_arguments = dict(split=split, batch_size=-1, data_dir=data_dir)
  try:
    arrays = tfds.load(name, download=False, **load_arguments)
  except tfds.core.DatasetNotFoundError as error:
    raise DataError(f"tfds has no dataset named {name!r}.") from error
  except AssertionError:
    # tfds raises AssertionError when there is no prepared copy: only then try a download.
    try:
      arrays = tfds.load(name, download=True, **load_arguments)
    except Exception as error:  # pylint: disable=broad-except
      # Without network the failure can be of many types, all meaning the same to the user.
      raise DataError(f"Dataset {name!r} ({split}) has no local tfds copy and could not be "
                      f"downloaded; {how_to_provide}.") from error
  except ValueError as error:
    raise DataError(f"tfds dataset {name!r} has no usable split {split!r}: {error}") from error
  arrays = tfds.as_numpy(arrays)
  if "image" not in arrays:
    raise DataError(f"tfds dataset {name!r} has features {sorted(arrays)}; expected an 'image' "
                    "feature.")
  images = np.asarray(arrays["image"])
  if images.ndim == 3:
    images = images[..., np.newaxis]
  labels = arrays.get("label")
  return images, None if labels is None else np.asarray(labels).astype(np.int64)

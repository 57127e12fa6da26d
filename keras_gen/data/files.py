"""Readers of IDX files (the MNISTs), npz archives and image folders; DataError naming the file."""

import gzip
import os
import pathlib
import stat
import struct
import zipfile
import zlib

import numpy as np

from keras_gen.data.errors import DataError
from keras_gen.lazy import tensorflow as tf

# Two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

_RESIZE_CHUNK = 4096


def _idx_file_names(split: str) -> tuple[str, str]:
  prefix = {"train": "train", "test": "t10k"}[split]
  return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_idx_file(directory: str, file_name: str) -> str | None:
  paths = [os.path.join(directory, file_name + suffix) for suffix in ("", ".gz")]
  return next((path for path in paths if os.path.isfile(path)), None)


def check_folder(directory: str, name: str) -> None:
  """DataError calling it `name` (e.g. "--data_dir=D") unless `directory` is a readable folder."""
  try:
    is_folder = stat.S_ISDIR(os.stat(directory).st_mode)
    if is_folder:
      os.listdir(directory)
  except FileNotFoundError as error:
    raise DataError(f"{name} does not exist.") from error
  except OSError as error:  # Permission denied on it or on a folder above it, for one.
    raise DataError(f"{name} cannot be read ({error.strerror}).") from error
  if not is_folder:
    raise DataError(f"{name} is a file, not a folder.")
  # Listing needs read permission, opening the files in it search (x) permission.
  if not os.access(directory, os.R_OK | os.X_OK):
    raise DataError(f"{name} cannot be read (Permission denied).")


def has_idx_dataset(directory: str, split: str) -> bool:
  """Whether directory holds both IDX files (plain or gzip'd) of a split."""
  return all(_find_idx_file(directory, file_name) for file_name in _idx_file_names(split))


def read_idx_dataset(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """A split's IDX files in directory -> (uint8 images [N, rows, cols, 1], int64 labels [N])."""
  check_folder(directory, f"Directory {directory}")
  images_name, labels_name = _idx_file_names(split)
  images_path = _find_idx_file(directory, images_name)
  labels_path = _find_idx_file(directory, labels_name)
  if images_path is None or labels_path is None:
    raise DataError(f"Directory {directory} has no {split} IDX files; expected "
                    f"{images_name}[.gz] and {labels_name}[.gz].")
  images = read_idx(images_path, IDX_IMAGES_MAGIC)
  labels = read_idx(labels_path, IDX_LABELS_MAGIC)
  if len(images) != len(labels):
    raise DataError(f"IDX files {images_path} and {labels_path} disagree: {len(images)} "
                    f"images but {len(labels)} labels.")
  return images[..., np.newaxis], labels.astype(np.int64)


def read_idx(path: str, expected_magic: int) -> np.ndarray:
  """An unsigned-byte IDX file (plain or .gz) -> uint8 of its header's shape, e.g. [N, 28, 28]."""
  try:
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as file:
      data = file.read()
  except (OSError, EOFError, zlib.error) as error:
    raise DataError(f"IDX file {path} could not be read: {error}.") from error

  if len(data) < 4:
    raise DataError(f"IDX file {path} is {len(data)} bytes long, too short for a header.")
  (magic,) = struct.unpack(">I", data[:4])
  if magic != expected_magic:
    raise DataError(f"IDX file {path} has magic number 0x{magic:08x}; expected "
                    f"0x{expected_magic:08x}.")
  num_dims = magic & 0xFF
  header_size = 4 + 4 * num_dims
  if len(data) < header_size:
    raise DataError(f"IDX file {path} is {len(data)} bytes long, too short for a header "
                    f"with {num_dims} dimensions.")
  dims = struct.unpack(f">{num_dims}I", data[4:header_size])
  if 0 in dims:
    raise DataError(f"IDX file {path} has dimensions {dims}; expected all positive.")
  expected_bytes = int(np.prod(dims))
  if len(data) - header_size != expected_bytes:
    raise DataError(f"IDX file {path} holds {len(data) - header_size} bytes of data; "
                    f"expected {expected_bytes} for dimensions {dims}.")
  return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims)


_NPZ_EXPECTED_KEYS = ("'images' (or 'x') holding uint8 [N, H, W] or [N, H, W, C] with "
                      "C = 1 or 3, and optionally 'labels' (or 'y') holding integers [N]")


def read_npz(path: str) -> tuple[np.ndarray, np.ndarray | None]:
  """A .npz's 'images' (or 'x') and 'labels' (or 'y') -> (uint8 [N, H, W, C], int64 [N] or None)."""
  if not os.path.isfile(path):
    raise DataError(f"npz file {path} does not exist.")
  with open(path, "rb") as f:
    magic = f.read(6)
  if magic == b"\x93NUMPY":
    raise DataError(f"npz file {path} holds a single array (a .npy file), not an archive; "
                    f"expected keys {_NPZ_EXPECTED_KEYS}.")
  if not magic.startswith(b"PK"):
    # np.load would take any other bytes for a pickle and say so, misleadingly.
    raise DataError(f"npz file {path} is not a numpy .npz archive (a zip file, as numpy.savez "
                    f"writes): it starts with {magic!r}.")
  try:
    # allow_pickle=False: a data file must never be able to run code.
    archive = np.load(path, allow_pickle=False)
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
    raise DataError(f"npz file {path} could not be read as a numpy archive: "
                    f"{str(error).rstrip('.')}.") from error
  with archive:
    keys = sorted(archive.files)
    image_key = next((key for key in ("images", "x") if key in keys), None)
    label_key = next((key for key in ("labels", "y") if key in keys), None)
    if image_key is None:
      raise DataError(f"npz file {path} has keys {keys}; expected {_NPZ_EXPECTED_KEYS}.")
    try:
      images = archive[image_key]
      labels = archive[label_key] if label_key else None
    except (ValueError, OSError, zipfile.BadZipFile) as error:
      # Object arrays land here, since they would need pickle.
      raise DataError(f"npz file {path} could not be read: {str(error).rstrip('.')}.") from error

  if images.ndim == 3:
    images = images[..., np.newaxis]
  if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise DataError(f"npz file {path} has {image_key!r} of dtype {images.dtype} and shape "
                    f"{images.shape}; expected {_NPZ_EXPECTED_KEYS}.")
  if labels is not None:
    if not np.issubdtype(labels.dtype, np.integer) or labels.shape != (len(images),):
      raise DataError(f"npz file {path} has {label_key!r} of dtype {labels.dtype} and shape "
                      f"{labels.shape}; expected {_NPZ_EXPECTED_KEYS}.")
    labels = labels.astype(np.int64)
  return images, labels


def read_image_folder(path: str, resolution: int) -> np.ndarray:
  """Every image under path, sorted -> uint8 [N, R, R, C], C = 3 unless every image is grey."""
  images = [crop_and_resize(decode_image(image_path)[np.newaxis], resolution)[0]
            for image_path in image_paths(path)]
  if all(image.shape[-1] == 1 for image in images):
    return np.stack(images)
  return np.stack([np.repeat(image, 3 // image.shape[-1], axis=-1) for image in images])


def image_paths(folder: str) -> list[str]:
  """Every image file under folder (recursively), sorted; DataError if there are none."""
  if not os.path.isdir(folder):
    raise DataError(f"Image folder {folder} does not exist or is not a directory.")
  paths = sorted(str(file) for file in pathlib.Path(folder).rglob("*")
                 if file.suffix.lower() in IMAGE_SUFFIXES and file.is_file())
  if not paths:
    raise DataError(f"Image folder {folder} contains no image files; expected "
                    f"{', '.join(IMAGE_SUFFIXES)} files (searched recursively).")
  return paths


def decode_image(path: str) -> np.ndarray:
  """One image file as uint8 [H, W, C], C = 1 or 3 (grey + alpha keeps grey, RGBA keeps RGB)."""
  try:
    image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False).numpy()
  except tf.errors.OpError as error:
    raise DataError(f"Image file {path} could not be decoded as PNG, JPEG, BMP or GIF.") from error
  return image[..., :1] if image.shape[-1] in (1, 2) else image[..., :3]


def crop_and_resize(images: np.ndarray, resolution: int, enlarge: str = "resize") -> np.ndarray:
  """uint8 [N, H, W, C] centre-cropped -> [N, R, R, C]: area-averaged down, bilinear up (area
  would repeat rows unevenly) or with enlarge="pad" zero-padded (odd margins bottom right)."""
  height, width = images.shape[1:3]
  if height == width == resolution:
    return images
  side = min(height, width)
  top, left = (height - side) // 2, (width - side) // 2
  images = images[:, top:top + side, left:left + side]
  if side == resolution:
    return np.ascontiguousarray(images)
  if enlarge == "pad" and side < resolution:
    before = (resolution - side) // 2
    after = resolution - side - before
    return np.pad(images, [(0, 0), (before, after), (before, after), (0, 0)])
  method = "area" if side > resolution else "bilinear"
  # In chunks: a large dataset must never need a float32 copy of itself.
  return np.concatenate([_resize(images[start:start + _RESIZE_CHUNK], resolution, method)
                         for start in range(0, len(images), _RESIZE_CHUNK)])


def _resize(images: np.ndarray, resolution: int, method: str) -> np.ndarray:
  resized = tf.image.resize(images, (resolution, resolution), method=method)
  return tf.saturate_cast(tf.round(resized), tf.uint8).numpy()

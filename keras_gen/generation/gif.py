"""A looping GIF89a encoder in numpy and Python (TensorFlow has none), and MP4 through imageio
if present. Grey frames and frames of at most 256 colours round-trip exactly; others are
quantized to a 6 x 7 x 6 colour cube."""

import os
import struct

import numpy as np

from keras_gen import config as config_lib
from keras_gen import storage

_MAX_CODE = 4096  # GIF's LZW codes have at most 12 bits.


def _palette_and_indices(frames):
  if frames.shape[-1] == 1:
    return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1), frames[..., 0]
  palette = np.zeros([256, 3], np.uint8)
  colours, inverse = np.unique(frames.reshape(-1, 3), axis=0, return_inverse=True)
  if len(colours) <= 256:
    palette[:len(colours)] = colours
    return palette, inverse.reshape(frames.shape[:3]).astype(np.uint8)
  # More than 256 colours: the nearest level of a uniform 6 x 7 x 6 cube (252 colours).
  levels = np.array([6, 7, 6])
  steps = np.round(frames.astype(np.float32) / 255.0 * (levels - 1)).astype(np.int32)
  indices = (steps[..., 0] * levels[1] + steps[..., 1]) * levels[2] + steps[..., 2]
  grid = np.stack(np.meshgrid(*[np.arange(n) for n in levels], indexing="ij"), -1).reshape(-1, 3)
  palette[:len(grid)] = np.round(grid / (levels - 1) * 255.0).astype(np.uint8)
  return palette, indices.astype(np.uint8)


def lzw_compress(indices, min_code_size=8):
  """GIF's variable-length LZW of palette indices, packed least significant bit first."""
  clear_code = 1 << min_code_size
  end_code = clear_code + 1
  code_size, next_code = min_code_size + 1, end_code + 1
  table, output = {}, bytearray()
  buffer, buffered_bits = 0, 0

  def emit(code, size):
    nonlocal buffer, buffered_bits
    buffer |= code << buffered_bits
    buffered_bits += size
    while buffered_bits >= 8:
      output.append(buffer & 0xFF)
      buffer >>= 8
      buffered_bits -= 8

  emit(clear_code, code_size)
  values = bytes(np.asarray(indices, np.uint8).ravel())
  prefix = values[0]
  for value in values[1:]:
    key = (prefix << 8) | value
    code = table.get(key)
    if code is not None:
      prefix = code
      continue
    emit(prefix, code_size)
    if next_code < _MAX_CODE:
      table[key] = next_code
      next_code += 1
      # The decoder adds each entry one code later, so it widens its codes once
      # the entry just added no longer fits in code_size bits.
      if next_code > (1 << code_size) and code_size < 12:
        code_size += 1
    else:
      emit(clear_code, code_size)
      table.clear()
      code_size, next_code = min_code_size + 1, end_code + 1
    prefix = value
  emit(prefix, code_size)
  emit(end_code, code_size)
  if buffered_bits:
    output.append(buffer & 0xFF)
  return bytes(output)


def _sub_blocks(payload):
  chunks = [payload[start:start + 255] for start in range(0, len(payload), 255)]
  return b"".join(bytes([len(chunk)]) + chunk for chunk in chunks) + b"\x00"


def encode_gif(frames, fps=24, loop=0):
  """The GIF89a bytes of frames uint8 [T, H, W, C], C 1 or 3; the delay is 1/fps rounded to
  1/100 s, at least 2/100 s (browsers slow faster ones down); loop 0 repeats forever."""
  frames = np.asarray(frames)
  if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3):
    raise ValueError(f"GIF frames must be uint8 [T, H, W, C] with C = 1 or 3, got "
                     f"{frames.dtype} {frames.shape}.")
  _, height, width, _ = frames.shape
  palette, indices = _palette_and_indices(frames)
  delay = max(2, int(round(100.0 / fps)))
  parts = [b"GIF89a",
           # Logical screen: a global colour table of 256 entries (2^(7+1)), 8 bits per primary.
           struct.pack("<HHBBB", width, height, 0xF7, 0, 0),
           palette.tobytes(),
           b"\x21\xFF\x0BNETSCAPE2.0" + struct.pack("<BBHB", 3, 1, loop, 0)]
  # Each frame: a graphic control extension (the delay) and a full-screen image descriptor.
  frame_header = (struct.pack("<BBBBHBB", 0x21, 0xF9, 4, 0x04, delay, 0, 0)
                  + struct.pack("<BHHHHB", 0x2C, 0, 0, width, height, 0))
  for frame in indices:
    parts.append(frame_header + b"\x08" + _sub_blocks(lzw_compress(frame)))
  return b"".join(parts) + b"\x3B"


def write_gif(path, frames, fps=24):
  storage.write_atomically(path, encode_gif(frames, fps))


def mp4_writer_available():
  try:
    import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
    import imageio_ffmpeg  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return False
  return hasattr(imageio, "get_writer")


def check_mp4_writer():
  if not mp4_writer_available():
    raise config_lib.ConfigError(
        "--mp4 needs imageio with ffmpeg (`pip install imageio imageio-ffmpeg`), which is not "
        "installed; leave --mp4 out to write the GIF alone.")


def write_mp4(path, frames, fps=24):
  """Writes frames uint8 [T, H, W, C] as an H.264 MP4, via a temporary name."""
  check_mp4_writer()
  import imageio.v2 as imageio  # pylint: disable=g-import-not-at-top
  frames = np.asarray(frames)
  if frames.shape[-1] == 1:
    frames = np.repeat(frames, 3, axis=-1)
  # H.264 in yuv420p needs even sides; pad with the last row / column.
  pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
  frames = np.pad(frames, [(0, 0), (0, pad_h), (0, pad_w), (0, 0)], mode="edge")
  partial = path + ".partial.mp4"
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with imageio.get_writer(partial, fps=fps, codec="libx264", pixelformat="yuv420p",
                          macro_block_size=1) as writer:
    for frame in frames:
      writer.append_data(frame)
  os.replace(partial, path)

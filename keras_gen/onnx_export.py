"""EXPORT_DIR/onnx/<step>/<signature>.onnx of a generator's serving_default or an autoencoder's
decode, converted from the SavedModel by tf2onnx (docs/serving.md)."""

import json
import os
import subprocess
import sys

from keras_gen import config as config_lib
from keras_gen import serving

OPSET = 17


def export_onnx(saved_model_path, export_dir):
  """Converts an export's generator/decoder signature to ONNX; returns {signature: path}."""
  try:
    import tf2onnx  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise config_lib.ConfigError(
        "--format=onnx needs tf2onnx and onnxruntime: pip install -e \".[onnx]\".") from e
  with open(os.path.join(saved_model_path, "assets", serving.METADATA_FILE)) as f:
    metadata = json.load(f)
  final_dir = os.path.join(export_dir, "onnx", str(metadata["step"]))
  signature = "decode" if "decode" in metadata["signatures"] else "serving_default"
  with serving.published_folder(final_dir) as partial_dir:
    path = os.path.join(partial_dir, f"{signature}.onnx")
    command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved_model_path,
               "--signature_def", signature, "--opset", str(OPSET), "--output", path]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not os.path.exists(path):
      raise RuntimeError(f"tf2onnx could not convert signature {signature!r} of "
                         f"{saved_model_path}: {result.stderr.strip()[-800:]}")
  return {signature: os.path.join(final_dir, f"{signature}.onnx")}

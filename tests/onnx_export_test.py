"""ONNX export: onnxruntime gives the SavedModel's outputs for the same inputs."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import export as export_entry
from keras_gen.engine import loop

onnxruntime = pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")


@pytest.mark.parametrize("model,signature,input_name,shape", [
    ("dcgan", "serving_default", "z", [3, 8]),
    ("autoencoder", "decode", "code", [3, 8]),
])
def test_onnx_model_matches_the_saved_model(tiny_config, tmp_path, model, signature, input_name,
                                            shape):
  config = tiny_config(model, train_steps=1)
  loop.run(config)
  paths = export_entry.export(config.model_dir, str(tmp_path / "export"), "", "onnx")
  saved_model_path, onnx_path = paths
  assert onnx_path.endswith(f"/onnx/1/{signature}.onnx")
  inputs = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  expected = tf.saved_model.load(saved_model_path).signatures[signature](
      **{input_name: tf.constant(inputs)})["images"].numpy()
  session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
  (actual,) = session.run(["images"], {input_name: inputs})
  assert actual.dtype == np.uint8 and actual.shape == expected.shape
  # uint8 outputs: float rounding may move a pixel by one level, never more.
  assert np.abs(actual.astype(int) - expected.astype(int)).max() <= 1

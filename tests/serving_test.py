"""SavedModel exports load with TensorFlow alone and answer every signature."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY_HPARAMS
from keras_gen import config as config_lib
from keras_gen import registry
from keras_gen import serving
from keras_gen.engine import loop
from keras_gen.engine import restore

# Runs in a fresh interpreter that imports only TensorFlow, as TF Serving would see it.
_PROBE = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    assert not any(name.startswith("keras_gen") for name in sys.modules)
    loaded = tf.saved_model.load(sys.argv[1])
    requests = json.loads(sys.argv[2])
    report = {}
    for name, inputs in requests.items():
      function = loaded.signatures[name]
      arguments = {key: tf.constant(value["value"], dtype=value["dtype"])
                   for key, value in inputs.items()}
      try:
        outputs = function(**arguments)
        report[name] = {key: [list(tensor.shape), tensor.dtype.name,
                              float(tf.reduce_min(tf.cast(tensor, tf.float32))),
                              float(tf.reduce_max(tf.cast(tensor, tf.float32)))]
                        for key, tensor in outputs.items()}
      except tf.errors.InvalidArgumentError as e:
        report[name] = {"error": e.message}
      except (TypeError, ValueError) as e:
        report[name] = {"error": str(e)}
    print(json.dumps(report))
""")


def _probe(path, requests):
  result = subprocess.run([sys.executable, "-c", _PROBE, path, json.dumps(requests)],
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_generator_export_answers_serving_default_and_sample(tiny_config):
  path = loop.run(tiny_config("dcgan", train_steps=1)).export_path
  report = _probe(path, {
      "serving_default": {"z": {"value": [[0.0] * 8] * 3, "dtype": "float32"}},
      "sample": {"num": {"value": 5, "dtype": "int32"}, "seed": {"value": 7, "dtype": "int64"}},
  })
  assert report["serving_default"]["images"][:2] == [[3, 16, 16, 1], "uint8"]
  assert report["sample"]["images"][:2] == [[5, 16, 16, 1], "uint8"]
  assert 0 <= report["sample"]["images"][2] <= report["sample"]["images"][3] <= 255


def test_a_request_above_the_cap_is_refused_with_a_clear_error(tiny_config):
  path = loop.run(tiny_config("dcgan", train_steps=1)).export_path
  report = _probe(path, {
      "sample": {"num": {"value": serving.MAX_BATCH + 1, "dtype": "int32"},
                 "seed": {"value": 0, "dtype": "int64"}}})
  assert f"at most {serving.MAX_BATCH} examples" in report["sample"]["error"]


def test_autoencoder_export_encodes_decodes_and_reconstructs(tiny_config):
  path = loop.run(tiny_config("autoencoder", train_steps=1)).export_path
  images = {"images": {"value": [[[[0]] * 16] * 16] * 2, "dtype": "uint8"}}
  report = _probe(path, {
      "encode": images, "reconstruct": images, "serving_default": images,
      "decode": {"code": {"value": [[0.0] * 8], "dtype": "float32"}}})
  assert report["encode"]["code"][:2] == [[2, 8], "float32"]
  assert report["reconstruct"]["images"][:2] == [[2, 16, 16, 1], "uint8"]
  assert report["serving_default"] == report["reconstruct"]
  assert report["decode"]["images"][:2] == [[1, 16, 16, 1], "uint8"]


def test_export_records_metadata_and_uses_the_step_as_version(tiny_config):
  config = tiny_config("autoencoder", train_steps=2)
  path = loop.run(config).export_path
  assert os.path.basename(path) == "2"
  with open(os.path.join(path, "assets", serving.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata["model"] == "autoencoder" and metadata["step"] == 2
  assert metadata["element_shape"] == [16, 16, 1] and metadata["latent_dim"] == 8
  assert "reconstruct" in metadata["signatures"]
  assert not [name for name in os.listdir(os.path.dirname(path)) if "partial" in name]


def test_export_cli_writes_the_newest_checkpoint(tiny_config, tmp_path):
  config = tiny_config("autoencoder", train_steps=2)
  loop.run(config)
  export_dir = tmp_path / "exports"
  result = subprocess.run([sys.executable, "-m", "keras_gen.export", f"--model_dir={config.model_dir}",
                           f"--export_dir={export_dir}"], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.returncode == 0, result.stderr
  assert (export_dir / "2" / "saved_model.pb").exists()
  assert f"Exported {export_dir}/2" in result.stdout


def test_export_cli_without_a_run_exits_2(tmp_path):
  result = subprocess.run([sys.executable, "-m", "keras_gen.export", f"--model_dir={tmp_path}"],
                          capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert result.returncode == 2
  assert "holds no keras_gen run" in result.stderr
  assert not os.listdir(tmp_path)


def test_encode_refuses_images_of_the_wrong_shape_or_dtype(tiny_config):
  path = loop.run(tiny_config("autoencoder", train_steps=1)).export_path
  report = _probe(path, {
      "encode": {"images": {"value": [[[[0.5]] * 16] * 16], "dtype": "float32"}},
      "reconstruct": {"images": {"value": [[[[0]] * 8] * 8], "dtype": "uint8"}}})
  assert "expected to be a uint8 tensor but is a float tensor" in report["encode"]["error"]
  assert "`images` must have shape [N, 16, 16, 1]" in report["reconstruct"]["error"]


def test_zero_negative_and_wrong_width_requests_are_refused(tiny_config):
  path = loop.run(tiny_config("dcgan", train_steps=1)).export_path
  for num, error in [(0, "A request must ask for at least one example"),
                     (-3, "A request must ask for at least one example")]:
    report = _probe(path, {"sample": {"num": {"value": num, "dtype": "int32"},
                                      "seed": {"value": 0, "dtype": "int64"}}})
    assert error in report["sample"]["error"]
  report = _probe(path, {"serving_default": {"z": {"value": [[0.0] * 9], "dtype": "float32"}}})
  assert "`z` must have shape [N, 8]" in report["serving_default"]["error"]


def test_non_finite_z_and_code_are_refused(tiny_config):
  generator = loop.run(tiny_config("dcgan", "gan", train_steps=1)).export_path
  autoencoder = loop.run(tiny_config("autoencoder", "ae", train_steps=1)).export_path
  nan_z = {"z": {"value": [[0.0] * 7 + [float("nan")]], "dtype": "float32"}}
  report = _probe(generator, {"serving_default": nan_z})
  assert "`z` must hold finite numbers" in report["serving_default"]["error"]
  report = _probe(autoencoder, {"decode": {"code": {"value": [[float("inf")] + [0.0] * 7],
                                                    "dtype": "float32"}}})
  assert "`code` must hold finite numbers" in report["decode"]["error"]


def test_a_request_whose_images_would_be_non_finite_is_refused_not_answered_with_noise():
  family, presets = registry.get_family("dcgan")
  hparams = config_lib.resolve_hparams("dcgan", family.DEFAULT_HPARAMS,
                                       dict(presets, **TINY_HPARAMS["dcgan"]))
  networks = family.build(hparams, (16, 16, 1))
  kernel = networks["G"].trainable_variables[0]
  kernel.assign(np.full(kernel.shape, np.inf, np.float32))
  module = serving.make_module(family, networks, hparams, (16, 16, 1))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="The model produced NaN or infinite values for this request"):
    module.sample(tf.constant(2), tf.constant(0, tf.int64))


@pytest.mark.parametrize("umask,folder_mode,file_mode", [(0o022, 0o755, 0o644),
                                                         (0o027, 0o750, 0o640)],
                         ids=["umask_022", "umask_027"])
def test_an_export_is_readable_as_the_umask_allows_not_only_by_its_writer(
    tiny_config, umask, folder_mode, file_mode):
  config = tiny_config("autoencoder", train_steps=1)
  loop.run(config)
  run = restore.load_run(config.model_dir)
  previous = os.umask(umask)
  try:
    path = serving.export(run.family, run.networks, run.config, 7, config.model_dir + "/e")
  finally:
    os.umask(previous)
  modes = {os.path.relpath(os.path.join(root, name), path): os.stat(os.path.join(root, name))
           .st_mode & 0o777 for root, folders, files in os.walk(path) for name in folders + files}
  assert os.stat(path).st_mode & 0o777 == folder_mode
  assert modes == {name: folder_mode if os.path.isdir(os.path.join(path, name)) else file_mode
                   for name in modes}
  assert "saved_model.pb" in modes and "variables" in modes

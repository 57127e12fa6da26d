"""Tests for keras_gen.families.vae: the step, warm-up, pictures and exported signatures."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import config
from keras_gen.engine import loop
from keras_gen.engine import step_context
from keras_gen.families import vae


def tiny_hparams(**overrides):
  return dict(vae.DEFAULT_HPARAMS, architecture="mlp", latent_dim=2, hidden_units=16,
              **overrides)


def one_step(hparams, images, step=0):
  networks = vae.build(hparams, images.shape[1:])
  optimizer, variables = vae.optimizers(hparams, networks)["vae"]
  optimizer.build(variables)
  context = step_context.StepContext(step=tf.constant(step, tf.int64), seed=0,
                             global_batch_size=len(images))
  return vae.train_step(networks, {"vae": optimizer}, {"images": tf.constant(images)},
                        context, hparams)


def test_kl_warmup_ramps_beta_linearly_then_holds_it():
  hparams = tiny_hparams(beta=2.0, kl_warmup_steps=10)
  assert float(vae.kl_weight(tf.constant(0, tf.int64), hparams)) == pytest.approx(0.2)
  assert float(vae.kl_weight(tf.constant(4, tf.int64), hparams)) == pytest.approx(1.0)
  assert float(vae.kl_weight(tf.constant(50, tf.int64), hparams)) == pytest.approx(2.0)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "discretized_logistic"])
def test_one_step_loss_is_reconstruction_plus_beta_times_kl(likelihood):
  images = np.random.default_rng(0).uniform(-1, 1, [4, 4, 4, 1]).astype(np.float32)
  losses = one_step(tiny_hparams(likelihood=likelihood, beta=0.5), images)
  assert float(losses["loss"]) == pytest.approx(
      float(losses["reconstruction"]) + 0.5 * float(losses["kl"]), rel=1e-5)
  assert float(losses["negative_elbo"]) == pytest.approx(
      float(losses["reconstruction"]) + float(losses["kl"]), rel=1e-5)
  assert float(losses["kl"]) > 0


def test_validate_hparams_names_the_bad_likelihood_and_its_choices():
  with pytest.raises(ValueError, match="likelihood='poisson' is not one of bernoulli"):
    vae.validate_hparams(tiny_hparams(likelihood="poisson"))


def test_conv_vae_with_a_2d_latent_logs_its_pictures_and_exports_generator_signatures(tmp_path):
  images = np.random.default_rng(0).integers(0, 256, [16, 16, 16, 1]).astype(np.uint8)
  np.savez(tmp_path / "data.npz", images=images)
  result = loop.run(config.TrainConfig(
      model="vae", dataset=f"npz:{tmp_path / 'data.npz'}", model_dir=str(tmp_path / "run"),
      train_steps=2, batch_size=8, summary_every=1, log_every=1, checkpoint_every=1,
      hparams={"architecture": "conv", "latent_dim": 2, "filters": 4,
               "likelihood": "discretized_logistic"}))
  pictures = set(os.listdir(tmp_path / "run" / "samples"))
  for tag in ("reconstructions", "samples", "interpolations", "manifold"):
    assert f"{tag}_step0000002.png" in pictures
  # A fresh process with TensorFlow alone, as a serving client would load it.
  script = f"""
import numpy as np, tensorflow as tf
loaded = tf.saved_model.load({result.export_path!r})
s = loaded.signatures
assert sorted(s) == ["decode", "encode", "reconstruct", "sample", "serving_default"], sorted(s)
out = s["serving_default"](z=tf.zeros([3, 2]))["images"]
assert out.dtype == tf.uint8 and out.shape == (3, 16, 16, 1), out.shape
assert s["sample"](num=tf.constant(5), seed=tf.constant(7, tf.int64))["images"].shape[0] == 5
images = tf.constant(np.zeros([2, 16, 16, 1], np.uint8))
code = s["encode"](images=images)["code"]
assert code.shape == (2, 2)
assert s["decode"](code=code)["images"].shape == (2, 16, 16, 1)
assert s["reconstruct"](images=images)["images"].shape == (2, 16, 16, 1)
for bad in (tf.zeros([2, 16, 16, 1]), tf.zeros([2, 8, 8, 1], tf.uint8)):
  try:
    s["encode"](images=bad)
    raise SystemExit("encode accepted a malformed batch")
  except (TypeError, ValueError, tf.errors.InvalidArgumentError) as e:
    print("REJECTED", str(e).splitlines()[0])
"""
  completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=120)
  assert completed.returncode == 0, completed.stderr[-2000:]
  assert completed.stdout.count("REJECTED") == 2
  assert "expected to be a uint8 tensor" in completed.stdout

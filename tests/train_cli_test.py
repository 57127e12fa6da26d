"""`python -m keras_gen.train` as a user runs it: errors, recipes, signals, the main job."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def _train(*flags, timeout=300):
  return subprocess.run([sys.executable, "-m", "keras_gen.train", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=timeout)


def _last_line(text):
  return text.strip().splitlines()[-1]


def test_help_lists_every_model_and_dataset():
  result = _train("--helpfull")
  for name in ("autoencoder", "dcgan", "fashion_mnist", "ring8", "folder:PATH"):
    assert name in result.stdout


@pytest.mark.parametrize("flags,message", [
    (["--model=dcgn"], "--model='dcgn' is not a known model; valid models:"),
    (["--dataset=nope"], "Dataset 'nope' is unknown; valid names are"),
    (["--batch_size=abc"], "--batch_size=abc"),
    (["--strategy=gpu"], "--strategy='gpu' is not one of default, one_device"),
    (["--hparams=latent_dim"], "--hparams item 'latent_dim' is not of the form name=value"),
    (["--hparams=latent_dim=big"], "Hyperparameter latent_dim='big' is not a valid int"),
    (["--recipe=no_such_recipe"], "--recipe='no_such_recipe' is neither a file nor a recipe"),
    (["--data_dir=/no/such/dir"], "--data_dir='/no/such/dir' does not exist"),
])
def test_a_user_error_exits_2_with_one_sentence_and_writes_nothing(tmp_path, flags, message):
  model_dir = tmp_path / "run"
  result = _train(f"--model_dir={model_dir}", *flags)
  assert result.returncode == 2, result.stderr
  assert message in result.stderr
  assert _last_line(result.stderr).startswith(("Error:", "Run `"))
  assert not model_dir.exists()


def test_a_recipe_sets_values_and_typed_flags_override_them(tmp_path, tiny_npz):
  recipe = tmp_path / "recipe.json"
  recipe.write_text(json.dumps({"config": {
      "model": "autoencoder", "dataset": f"npz:{tiny_npz}", "train_steps": 5, "batch_size": 8,
      "hparams": {"code_size": 4, "filters": 4, "architecture": "mlp"}}}))
  model_dir = tmp_path / "run"
  result = _train(f"--recipe={recipe}", f"--model_dir={model_dir}", "--train_steps=2",
                  "--hparams=code_size=6")
  assert result.returncode == 0, result.stderr
  written = json.loads((model_dir / "config.json").read_text())
  assert written["train_steps"] == 2 and written["batch_size"] == 8
  assert written["hparams"]["code_size"] == 6 and written["hparams"]["architecture"] == "mlp"


def test_sigterm_saves_a_checkpoint_and_the_same_command_resumes(tmp_path, tiny_npz):
  model_dir = tmp_path / "run"
  command = [sys.executable, "-m", "keras_gen.train", "--model=autoencoder",
             f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}", "--batch_size=8",
             "--train_steps=1000000", "--log_every=1", "--checkpoint_every=1000000",
             "--hparams=filters=4,code_size=8"]
  process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
  try:
    for line in process.stdout:
      if line.startswith("step 20/"):
        process.send_signal(signal.SIGTERM)
        break
    output, _ = process.communicate(timeout=120)
  finally:
    process.kill()
  assert process.returncode == 128 + signal.SIGTERM
  assert "checkpoint saved" in output
  checkpoints = [name for name in os.listdir(model_dir / "checkpoints") if name.endswith(".index")]
  assert len(checkpoints) == 1
  stopped_at = int(checkpoints[0][len("ckpt-"):-len(".index")])
  assert stopped_at >= 20
  resumed = _train(*[flag if not flag.startswith("--train_steps") else
                     f"--train_steps={stopped_at + 2}" for flag in command[3:]])
  assert resumed.returncode == 0, resumed.stderr
  assert f"Resumed from {model_dir}/checkpoints/ckpt-{stopped_at} at step {stopped_at}." \
      in resumed.stdout


# Runs `python -m keras_gen.train FLAGS...` with a SIGTERM sent to itself as the final export
# starts writing its SavedModel.
_SIGTERM_DURING_THE_EXPORT = textwrap.dedent("""
    import os, runpy, signal, sys
    import tensorflow as tf

    real_save = tf.saved_model.save

    def save_after_a_sigterm(*args, **kwargs):
      os.kill(os.getpid(), signal.SIGTERM)
      return real_save(*args, **kwargs)

    tf.saved_model.save = save_after_a_sigterm
    sys.argv = ["keras_gen.train"] + sys.argv[1:]
    runpy.run_module("keras_gen.train", run_name="__main__", alter_sys=True)
""")


def test_sigterm_during_the_final_export_says_how_to_export_the_saved_checkpoint(tmp_path,
                                                                                  tiny_npz):
  model_dir = tmp_path / "run"
  result = subprocess.run(
      [sys.executable, "-c", _SIGTERM_DURING_THE_EXPORT, "--model=autoencoder",
       f"--dataset=npz:{tiny_npz}", f"--model_dir={model_dir}", "--batch_size=8",
       "--train_steps=2", "--hparams=filters=4,code_size=8"],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 128 + signal.SIGTERM, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  assert (f"Stopped by signal 15 before the export was written; the checkpoint of step 2 is "
          f"saved: export it with `python -m keras_gen.export --model_dir={model_dir}`."
          ) in result.stdout.splitlines()
  assert "Exported" not in result.stdout
  assert os.listdir(model_dir / "export") == []  # Its partial folder was removed.
  assert not os.path.exists(model_dir / "lock")
  exported = subprocess.run([sys.executable, "-m", "keras_gen.export", f"--model_dir={model_dir}"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
  assert (exported.returncode, exported.stdout) == (0, f"Exported {model_dir}/export/2\n")


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST), reason="dataset-fashion-mnist not installed")
def test_the_readme_main_job_writes_checkpoints_logs_a_png_and_an_export(tmp_path):
  model_dir = tmp_path / "dcgan"
  result = _train("--recipe=dcgan_fashion_mnist", f"--model_dir={model_dir}",
                  "--train_steps=20", "--summary_every=20", "--log_every=10")
  assert result.returncode == 0, result.stderr
  assert "step 20/20" in result.stdout and "img/s" in result.stdout and "ETA" in result.stdout
  assert (model_dir / "checkpoints" / "ckpt-20.index").exists()
  assert any(name.startswith("events.out.tfevents") for name in os.listdir(model_dir / "train"))
  assert (model_dir / "samples" / "samples_step0000020.png").exists()
  assert (model_dir / "export" / "20" / "saved_model.pb").exists()

"""Adds a finished run to the pretrained zoo, lists it, verifies it: `python tools/pretrained.py`.

  python tools/pretrained.py add --model_dir=runs/dcgan_fashion_mnist --name=dcgan_fashion_mnist
  python tools/pretrained.py list
  python tools/pretrained.py verify

`add` writes zoo/pretrained/NAME/ (`keras_gen.pretrained` describes the
two files) from the run's newest checkpoint (or --checkpoint): the weights in
--storage_dtype, and a manifest with the recipe, the step, the metric values
`keras_gen.evaluate --model_dir` (or the training's --metrics) wrote for that
step in MODEL_DIR/eval/, the run's wall time and machine from run_info.json, and
the SHA-256 and size of every file. It measures what float16 storage does to
the outputs (256 samples at seed 0, and reconstructions of the first 256 test
images for an autoencoder, from the trained and from the stored weights), loads
the written folder back to check it holds exactly the weights measured, and
refuses (writing nothing) when the shipped models would exceed the 20 MB budget
or NAME exists without --replace. `verify` checks every shipped file's hash
and the budget.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402
from keras_gen import config as config_lib  # noqa: E402

COMMANDS = ("add", "list", "verify")
COMPARED_EXAMPLES = 256

flags.DEFINE_string("model_dir", "", "add: the finished training run.")
flags.DEFINE_string("name", "", "add: the pretrained model's name, e.g. dcgan_fashion_mnist.")
flags.DEFINE_string("checkpoint", "", "add: a checkpoint path (default: the run's newest).")
flags.DEFINE_string("recipe", "", "add: the zoo recipe the run followed (default: NAME if "
                    "zoo/NAME.json exists).")
flags.DEFINE_enum("storage_dtype", "float16", ["float16", "float32"],
                  "add: how float32 weights are stored (loaded back as float32).")
flags.DEFINE_bool("replace", False, "add: replace an existing model of that name.")
flags.DEFINE_string("root", "", "The pretrained folder (default: zoo/pretrained).")
FLAGS = flags.FLAGS


def _metrics(model_dir, step):
  """The evaluation results the run has for `step` (MODEL_DIR/eval/stepNNNNNNN.json)."""
  path = os.path.join(model_dir, "eval", f"step{step:07d}.json")
  if not os.path.exists(path):
    raise config_lib.ConfigError(
        f"{path} does not exist: evaluate the checkpoint first (python -m keras_gen.evaluate "
        f"--model_dir={model_dir} --metrics=...), so the manifest can state its quality.")
  with open(path) as f:
    results = json.load(f)
  return {key: results[key] for key in ("metrics", "dataset", "split", "num_samples", "seed",
                                        "metric_options", "machine") if key in results}


def _recipe(name):
  recipe = FLAGS.recipe or (name if name in config_lib.recipe_names() else "")
  if not recipe:
    return {"recipe": ""}
  with open(config_lib.recipe_path(recipe)) as f:
    document = json.load(f)
  return {"recipe": recipe, "recipe_command": document.get("command", "")}


def _training(model_dir):
  path = os.path.join(model_dir, "run_info.json")
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return {"training_runs": json.load(f)["runs"]}


def _difference(before, after, model):
  """How far `after` (float32 arrays) is from `before`: on the float scale and in uint8 levels."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from keras_gen.generation import layout  # pylint: disable=g-import-not-at-top
  result = {"max_abs": float(np.abs(after - before).max())}
  if model.kind != "points":
    levels = np.abs(layout.to_uint8(after).astype(int) - layout.to_uint8(before).astype(int))
    result.update(max_uint8_levels=int(levels.max()),
                  uint8_values_changed=float((levels > 0).mean()))
  return result


def _storage_difference(run, run_config, storage_dtype):
  """(outputs' difference, weights digest) between the trained networks and the same
  networks after storage (weights cast to storage_dtype and back to float32)."""
  from keras_gen.engine import checkpoints  # pylint: disable=g-import-not-at-top
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  from keras_gen.generation import latents  # pylint: disable=g-import-not-at-top
  from keras_gen.generation import models  # pylint: disable=g-import-not-at-top
  arrays, _ = pretrained.stored_arrays(run.networks, run.family_state, storage_dtype)
  config, family, networks, family_state = restore.build_networks(run_config)
  pretrained.assign_arrays(networks, family_state, arrays, "the stored weights")
  stored = restore.RestoredRun(family.config_at(config, family_state), family, networks,
                               run.step, "", family_state)
  before, after = models.from_run(run), models.from_run(stored)
  difference = {"compared": f"{COMPARED_EXAMPLES} outputs of the trained float32 weights and "
                            f"of the {storage_dtype} ones loaded as float32"}
  if before.generate is not None:
    z = latents.gaussian(COMPARED_EXAMPLES, before.latent_dim, seed=0)
    difference["generate"] = _difference(before.generate(z), after.generate(z), before)
  if before.encode is not None:
    real = before.real_examples("test").examples[:COMPARED_EXAMPLES]
    images = real.astype("float32") / 127.5 - 1.0
    difference["reconstruct"] = _difference(before.reconstruct(images),
                                            after.reconstruct(images), before)
  return difference, checkpoints.weights_digest(networks, family_state)


def add():
  """Writes zoo/pretrained/NAME/ from FLAGS.model_dir; returns the manifest."""
  from keras_gen.engine import checkpoints  # pylint: disable=g-import-not-at-top
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  from keras_gen.engine import restore  # pylint: disable=g-import-not-at-top
  if not FLAGS.model_dir or not FLAGS.name:
    raise config_lib.ConfigError("add needs --model_dir (a finished run) and --name.")
  folder = os.path.join(FLAGS.root or pretrained.PRETRAINED_DIR, FLAGS.name)
  if os.path.exists(folder) and not FLAGS.replace:
    raise config_lib.ConfigError(
        f"{folder} exists; pass --replace to replace it (only when its recipe measurably "
        f"improved).")
  run = restore.load_run(FLAGS.model_dir, FLAGS.checkpoint or None)
  run_config = checkpoints.read_run_config(FLAGS.model_dir)
  fields = {"name": FLAGS.name, **_recipe(FLAGS.name),
            "evaluation": _metrics(FLAGS.model_dir, run.step),
            **_training(FLAGS.model_dir),
            "checkpoint": os.path.basename(run.checkpoint_path),
            "added": time.strftime("%Y-%m-%d")}
  difference, digest = _storage_difference(run, run_config, FLAGS.storage_dtype)
  fields[f"{FLAGS.storage_dtype}_output_difference"] = difference
  manifest = pretrained.write(run, run_config, folder, fields, FLAGS.storage_dtype)
  loaded = pretrained.load_run(folder)
  if checkpoints.weights_digest(loaded.networks, loaded.family_state) != digest:
    raise RuntimeError(f"{folder} does not load to the weights measured; it was left in "
                       f"place for inspection.")
  return folder, manifest


def _list(root):
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  for name in pretrained.names(root):
    with open(os.path.join(root, name, pretrained.MANIFEST)) as f:
      manifest = json.load(f)
    size = sum(entry["bytes"] for entry in manifest["files"].values())
    print(f"{name:<32} {manifest['model']:<14} step {manifest['step']:<8} "
          f"{manifest['storage_dtype']:<8} {size:>11,} bytes")
  print(f"{pretrained.folder_bytes(root):,} bytes of {pretrained.BUDGET_BYTES:,} in {root}")


def _verify(root):
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  for name in pretrained.names(root):
    pretrained.read_manifest(os.path.join(root, name))
    print(f"{name}: every file matches its SHA-256")
  if pretrained.folder_bytes(root) > pretrained.BUDGET_BYTES:
    raise config_lib.ConfigError(f"{root} holds {pretrained.folder_bytes(root):,} bytes, over "
                                 f"the budget of {pretrained.BUDGET_BYTES:,}.")


def main(argv):
  if len(argv) != 2 or argv[1] not in COMMANDS:
    cli.usage_error(f"Give one command: {', '.join(COMMANDS)} (got {argv[1:]}).")
  cli.quiet_tensorflow()
  from keras_gen import pretrained  # pylint: disable=g-import-not-at-top
  root = FLAGS.root or pretrained.PRETRAINED_DIR
  if argv[1] == "add":
    folder, manifest = cli.exit_on_user_error(add)
    size = sum(entry["bytes"] for entry in manifest["files"].values())
    print(f"Wrote {folder}: {manifest['model']} step {manifest['step']}, {size:,} bytes "
          f"({manifest['storage_dtype']}); the pretrained models take "
          f"{pretrained.folder_bytes(root):,} of {pretrained.BUDGET_BYTES:,} bytes.")
    print(json.dumps(manifest[f"{manifest['storage_dtype']}_output_difference"], indent=2))
  elif argv[1] == "list":
    _list(root)
  else:
    cli.exit_on_user_error(_verify, root)


if __name__ == "__main__":
  cli.run(main)

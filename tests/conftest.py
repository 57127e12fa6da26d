"""Test session set-up: one TensorFlow import on one intra-op thread, the CPU split
into logical devices.

MirroredStrategy tests need several devices, and TensorFlow only accepts a
logical-device split before it initializes, so it happens here, once, before any
test module imports TensorFlow.
"""

import glob
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One intra-op thread per test process: `pytest -n 2` runs two processes on this
# project's 2-core machines.
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # noqa: E402

TEST_CPU_REPLICAS = 2

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * TEST_CPU_REPLICAS)


import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Networks small enough that a step takes milliseconds; values, not quality, are tested.
TINY_HPARAMS = {
    "autoencoder": {"filters": 4, "code_size": 8, "hidden_units": 16},
    "dcgan": {"latent_dim": 8, "g_filters": 4, "d_filters": 4},
    "wgan": {"latent_dim": 8, "g_filters": 4, "d_filters": 4},
    # 8 feature maps; 4x4 stable for 2 steps of 8 images, then the 8x8 transition for 4 steps.
    "progan": {"latent_dim": 8, "fmap_base": 64, "fmap_max": 8, "mbstd_group_size": 2,
               "minibatch_default": 8, "training_kimg": 0.016, "transition_kimg": 0.032,
               "total_kimg": 0.048},
}


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory):
  """A .npz of 64 grey 16x16 images (smooth blobs, so they are learnable) with labels."""
  rng = np.random.default_rng(0)
  grid = np.stack(np.meshgrid(np.arange(16), np.arange(16), indexing="ij"), -1)
  centres = rng.uniform(4, 12, size=(64, 1, 1, 2))
  images = 255 * np.exp(-np.sum((grid[None] - centres) ** 2, -1) / 8.0)
  path = tmp_path_factory.mktemp("data") / "tiny.npz"
  np.savez(path, images=images.astype(np.uint8)[..., None],
           labels=rng.integers(0, 10, size=64))
  return path


@pytest.fixture
def tiny_config(tiny_npz, tmp_path):
  """Returns a function making a TrainConfig for `model` on the tiny dataset."""
  from keras_gen import config as config_lib

  def make(model, name="run", **overrides):
    hparams = dict(TINY_HPARAMS.get(model, {}))
    hparams.update(overrides.pop("hparams", {}))
    values = dict(model=model, dataset=f"npz:{tiny_npz}", model_dir=str(tmp_path / name),
                  train_steps=2, batch_size=8, checkpoint_every=1000, summary_every=1000,
                  log_every=1000, hparams=hparams)
    values.update(overrides)
    return config_lib.TrainConfig(**values)

  return make


def network_weights(model_dir):
  """{network name: [numpy arrays]} of the newest checkpoint in model_dir."""
  from keras_gen.engine import restore
  run = restore.load_run(model_dir)
  return {name: [v.numpy() for v in network.variables] for name, network in run.networks.items()}


def checkpoint_values(model_dir, skip=("step/", "save_counter/", "_CHECKPOINTABLE_OBJECT_GRAPH")):
  """{key: numpy value} of every tensor in the newest checkpoint in model_dir (networks,
  optimizer slots and iteration counts, the phase state), but the step counters."""
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(
      os.path.join(model_dir, "checkpoints")))
  return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
          if not key.startswith(skip)}


def assert_same_checkpoint_values(left, right):
  assert left.keys() == right.keys()
  for key in left:
    np.testing.assert_array_equal(left[key], right[key], err_msg=key)


def assert_same_weights(left, right, atol=0.0, rtol=0.0):
  assert left.keys() == right.keys()
  for name in left:
    assert len(left[name]) == len(right[name])
    for a, b in zip(left[name], right[name]):
      np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=f"network {name}")


def grappler_optimized(graph, config):
  """The GraphDef Grappler makes of a traced function's `graph` under `config` (a
  ConfigProto), as before running it, with the graph's outputs kept."""
  from tensorflow.python.framework import meta_graph
  from tensorflow.python.grappler import tf_optimizer

  graph_def = meta_graph.create_meta_graph_def(graph=graph)
  graph_def.collection_def["train_op"].node_list.value.extend(
      tensor.op.name for tensor in graph.outputs)
  return tf_optimizer.OptimizeGraph(config, graph_def)


def reads_left_unordered(config):
  """[(read, write)] of one variable: a read that the traced train step orders before a
  write and that the step as Grappler optimizes it with the runtime's options no longer
  does (a read is ordered if the write depends on it through data or control edges)."""
  from tensorflow.python.eager import context

  from keras_gen import registry
  from keras_gen.engine import loop, segments

  config = loop.resolve(config)
  family, _ = registry.get_family(config.model)
  strategy = tf.distribute.get_strategy()
  plan = segments.make_schedule(config, family, 1)
  config.element_shape = list(plan.element_shape)
  state = loop.build_state(config, family, strategy, plan.element_shape)
  plan.bind(state.family_state)
  segment = plan.segment(0, state.optimizers)
  function = loop.make_train_function(config, family, strategy, state,
                                      segment.global_batch_size,
                                      before_step=segment.before_step,
                                      after_step=segment.after_step)
  iterator = iter(strategy.distribute_datasets_from_function(segment.input_fn))
  traced = function.get_concrete_function(iterator)
  optimized = grappler_optimized(traced.graph, context.context().config)
  inputs = {node.name: [name.lstrip("^").split(":")[0] for name in node.input]
            for node in optimized.node}

  def ancestors(name):
    seen, pending = set(), [name]
    while pending:
      for parent in inputs[pending.pop()]:
        if parent not in seen:
          seen.add(parent)
          pending.append(parent)
    return seen

  writes = ("AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")
  return [(read.name, op.name) for op in traced.graph.get_operations()
          if op.type in writes and op.name in inputs
          for read in op.control_inputs
          if read.type == "ReadVariableOp" and read.name in inputs
          and read.name not in ancestors(op.name)]


def event_tags(model_dir):
  """{tag: [steps]} of every summary the training loop logged under MODEL_DIR/train."""
  tags = {}
  for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        tags.setdefault(value.tag, []).append(event.step)
  return tags


DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
requires_debian_fashion_mnist = pytest.mark.skipif(
    not os.path.isfile(os.path.join(DEBIAN_FASHION_MNIST, "train-images-idx3-ubyte.gz")),
    reason="Debian's dataset-fashion-mnist is not installed (apt-get install "
    "dataset-fashion-mnist)")

# The emoji dataset needs Debian's colour emoji font and Unicode's emoji list (its labels).
requires_emoji_data = pytest.mark.skipif(
    not (os.path.isfile("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
         and os.path.isfile("/usr/share/unicode/emoji/emoji-test.txt")),
    reason="needs Debian's fonts-noto-color-emoji and unicode-data (.ci/run installs both)")


def _write_idx(path, array, magic):
  array = np.asarray(array, np.uint8)
  header = np.array([magic] + list(array.shape), ">u4").tobytes()
  with open(path, "wb") as f:
    f.write(header + array.tobytes())


@pytest.fixture(scope="session")
def real_fashion_mnist_idx(tmp_path_factory):
  """An IDX folder with the first 64 real Fashion-MNIST images of each split (28x28)."""
  from keras_gen.data import files
  folder = tmp_path_factory.mktemp("fashion_mnist_idx")
  for split, prefix in (("train", "train"), ("test", "t10k")):
    images, labels = files.read_idx_dataset(DEBIAN_FASHION_MNIST, split)
    _write_idx(folder / f"{prefix}-images-idx3-ubyte", images[:64, ..., 0],
               files.IDX_IMAGES_MAGIC)
    _write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels[:64], files.IDX_LABELS_MAGIC)
  return str(folder)


def save_random_classifier(dataset, input_shape, num_classes=10):
  """Saves an untrained domain classifier for `dataset` where `load_extractor` looks
  (under $KERAS_GEN_HOME); returns its weights path."""
  import keras
  from keras_gen.metrics import classifier
  keras.utils.set_random_seed(0)
  path = classifier.default_path(dataset)
  model = classifier.build(input_shape, num_classes)
  classifier._save(model, {"dataset": dataset, "input_shape": list(input_shape),  # pylint: disable=protected-access
                           "num_classes": num_classes, "test_accuracy": None}, path)
  return path

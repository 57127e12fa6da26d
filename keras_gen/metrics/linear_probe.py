"""Linear probe (Radford et al. 2016): a classifier on frozen features (docs/evaluation.md)."""

import keras
import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data

# In the order of fit_and_score's epochs, l2, learning_rate and batch_size.
DEFAULTS = {"probe_epochs": 30, "probe_l2": 1e-3, "probe_learning_rate": 1e-3,
            "probe_batch_size": 256}
FEATURE_BATCH = 500  # Images per feature-extraction call.
# Added to the run's seed, so that the random-init network is never the run's own init.
RANDOM_INIT_SEED_OFFSET = 1_000_003


def feature_extractor(family, networks, hparams, model_name, family_state=None):
  """(images [N, H, W, C] in [-1, 1] -> features [N, F], description) of the family's hook."""
  if (extractor := family.features(networks, hparams, family_state)) is None:
    raise config_lib.ConfigError(f"linear_probe has no feature layer for model {model_name!r}; "
                                 "it probes GAN discriminators and autoencoder encoders.")
  return extractor


def random_init_networks(family, hparams, element_shape, run_seed):
  keras.utils.set_random_seed(run_seed + RANDOM_INIT_SEED_OFFSET)
  return family.build(hparams, tuple(element_shape))


def extract(function, images):
  """features float32 [N, F] of uint8 images [N, H, W, C], in batches."""
  features = None
  for start in range(0, len(images), FEATURE_BATCH):
    batch = data.from_uint8(images[start:start + FEATURE_BATCH])
    values = tf.cast(function(batch), tf.float32).numpy()
    if features is None:  # Filled in place: 60,000 x 6,272 features are 1.5 GB.
      features = np.empty([len(images), values.shape[1]], np.float32)
    features[start:start + len(values)] = values
  return features


def pixels(images):
  return tf.reshape(images, [tf.shape(images)[0], -1])


def _mean_and_std(features, rows_per_chunk=4096):
  """Per-feature float32 mean and std [F], summed in float64; a constant feature gets std 1."""
  sums, squares = np.zeros(features.shape[1]), np.zeros(features.shape[1])
  for start in range(0, len(features), rows_per_chunk):
    chunk = features[start:start + rows_per_chunk].astype(np.float64)
    sums += chunk.sum(axis=0)
    squares += np.square(chunk).sum(axis=0)
  mean = sums / len(features)
  std = np.sqrt(np.maximum(squares / len(features) - np.square(mean), 0.0))
  std[std < 1e-6] = 1.0
  return mean.astype(np.float32), std.astype(np.float32)


def fit_and_score(train_features, train_labels, test_features, test_labels, num_classes,
                  epochs, l2, learning_rate, batch_size, seed):
  """(train, test accuracy) of L2 logistic regression on float32 [N, F], standardized in place."""
  mean, std = _mean_and_std(train_features)
  for features in (train_features, test_features):
    features -= mean
    features /= std
  train_x = tf.constant(train_features, tf.float32)
  test_x = tf.constant(test_features, tf.float32)
  train_y = tf.constant(train_labels, tf.int64)
  weights = tf.Variable(tf.zeros([train_x.shape[1], num_classes]))
  bias = tf.Variable(tf.zeros([num_classes]))
  optimizer = keras.optimizers.Adam(learning_rate)
  optimizer.build([weights, bias])
  count = train_x.shape[0]
  batches = max(count // batch_size, 1)

  @tf.function
  def train_epoch(order):
    for batch in tf.range(batches):
      rows = order[batch * batch_size:(batch + 1) * batch_size]
      x, y = tf.gather(train_x, rows), tf.gather(train_y, rows)
      with tf.GradientTape() as tape:
        logits = tf.matmul(x, weights) + bias
        loss = (tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
                + l2 * tf.reduce_sum(tf.square(weights)))
      optimizer.apply_gradients(zip(tape.gradient(loss, [weights, bias]), [weights, bias]))

  for epoch in range(epochs):
    train_epoch(tf.random.experimental.stateless_shuffle(
        tf.range(count, dtype=tf.int64), seed=[seed, epoch]))

  def accuracy(x, labels):
    predictions = tf.argmax(tf.matmul(x, weights) + bias, axis=1).numpy()
    return float(np.mean(predictions == labels))

  return accuracy(train_x, train_labels), accuracy(test_x, test_labels)


def _option(extra, name, default):
  """A number from --metric_options, of the default's type: positive (probe_l2 may be 0)."""
  value = extra.get(name, default)
  try:
    number = type(default)(value)
  except ValueError as e:
    raise config_lib.ConfigError(f"--metric_options={name}={value} is not a "
                                 f"{'whole ' if isinstance(default, int) else ''}number.") from e
  allows_zero = name == "probe_l2"
  if number < 0 or (number == 0 and not allows_zero):
    raise config_lib.ConfigError(f"--metric_options={name}={value} must be "
                                 f"{'0 or more' if allows_zero else 'positive'}.")
  return number


def _labelled(source, role):
  if source is None:
    raise config_lib.ConfigError("linear_probe needs the train split; it was not loaded.")
  if source.labels is None:
    raise config_lib.ConfigError(f"linear_probe needs class labels, and dataset {source.name!r} "
                                 f"({role}) has none.")
  if source.kind != "images":
    raise config_lib.ConfigError(f"linear_probe probes image models; dataset {source.name!r} "
                                 "holds points.")
  return source


def linear_probe(subject, options):
  """Test and train accuracy of trained, "random_init_" and "pixels_" features, and "chance"."""
  if subject.run is None:
    raise config_lib.ConfigError("linear_probe needs the trained networks themselves: give "
                                 "--model_dir (a run folder), not --saved_model (an export "
                                 "holds no discriminator).")
  run = subject.run
  train, held_out = _labelled(options.train, "train"), _labelled(options.held_out, "held-out")
  settings = {name: _option(options.extra, name, default) for name, default in DEFAULTS.items()}
  train_count = min(_option(options.extra, "probe_train_examples", options.num_samples),
                    len(train.examples))
  chosen = np.sort(np.random.default_rng(options.seed).permutation(
      len(train.examples))[:train_count])
  train_images, train_labels = train.examples[chosen], train.labels[chosen]
  test_count = min(options.num_samples, len(held_out.examples))
  test_images, test_labels = held_out.examples[:test_count], held_out.labels[:test_count]
  num_classes = int(max(train_labels.max(), test_labels.max())) + 1

  hparams, element_shape = run.config.hparams, run.config.element_shape
  trained, description = feature_extractor(run.family, run.networks, hparams, run.config.model,
                                           run.family_state)
  random_networks = random_init_networks(run.family, hparams, element_shape, run.config.seed)
  # A growing model's level and alpha say which architecture it is at; they are not learned.
  untrained, _ = feature_extractor(run.family, random_networks, hparams, run.config.model,
                                   run.family_state)

  results = {"features": description, "chance": 1.0 / num_classes,
             "train_examples": int(train_count), "test_examples": int(test_count),
             "random_init_seed": run.config.seed + RANDOM_INIT_SEED_OFFSET, **settings}
  for prefix, function in (("", trained), ("random_init_", untrained), ("pixels_", pixels)):
    train_features = extract(function, train_images)
    train_accuracy, test_accuracy = fit_and_score(
        train_features, train_labels, extract(function, test_images), test_labels, num_classes,
        *settings.values(), options.seed)
    results[f"{prefix}test_accuracy"] = test_accuracy
    results[f"{prefix}train_accuracy"] = train_accuracy
    results[f"{prefix}feature_dim"] = int(train_features.shape[1])
  return results


# Tells the evaluation framework to load the train split whatever --split is.
linear_probe.needs_train_split = True

"""GAN losses, gradient penalties and reconstruction losses, float32 [batch] per example, never
a mean: the engine averages with `tf.nn.compute_average_loss` (Keras >= 3.8 loss objects would
rescale by 1/replicas once more). GAN losses take logits or scores [batch] or [batch, 1]."""

import tensorflow as tf

# Keeps the derivative of sqrt(sum(x^2)) finite where a gradient is exactly zero.
GRADIENT_NORM_EPSILON = 1e-12


def _per_example_scores(scores, name):
  """`scores` as float32 [batch], from [batch] or [batch, 1]."""
  scores = tf.cast(scores, tf.float32)
  rank = scores.shape.rank
  if rank == 1:
    return scores
  if rank == 2 and scores.shape[1] in (1, None):
    return tf.squeeze(scores, axis=1)
  raise ValueError(f"{name} must have shape [batch] or [batch, 1], got {scores.shape}.")


def _sum_over_non_batch_axes(values):
  if values.shape.rank is None:
    return tf.reduce_sum(values, axis=tf.range(1, tf.rank(values)))
  return tf.reduce_sum(values, axis=list(range(1, values.shape.rank)))


def _check_same_shape(x, y, x_name, y_name):
  # Broadcasting would silently turn a [batch] and a [batch, 1] into a [batch, batch] loss.
  if not x.shape.is_compatible_with(y.shape):
    raise ValueError(f"{x_name} and {y_name} must have the same shape, got {x.shape} and "
                     f"{y.shape}.")


def minimax_generator_loss(fake_logits):
  """log(1 - D(G(z))) = -softplus(fake_logits), in (-inf, 0]. Goodfellow et al. 2014, eq. 1."""
  return -tf.nn.softplus(_per_example_scores(fake_logits, "fake_logits"))


def minimax_discriminator_loss(real_logits, fake_logits):
  """-log D(x) - log(1 - D(G(z))), in [0, inf). Goodfellow et al. 2014, "GANs", eq. 1."""
  real_logits = _per_example_scores(real_logits, "real_logits")
  fake_logits = _per_example_scores(fake_logits, "fake_logits")
  return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


def non_saturating_generator_loss(fake_logits):
  """-log D(G(z)) = softplus(-fake_logits), in [0, inf). Goodfellow et al. 2014, sec. 3."""
  return tf.nn.softplus(-_per_example_scores(fake_logits, "fake_logits"))


def non_saturating_discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
  """The minimax loss with real label 1 - label_smoothing, in [0, inf); Goodfellow et al. 2014,
  one-sided label smoothing of Salimans et al. 2016, sec. 3.4."""
  if not 0.0 <= label_smoothing < 1.0:
    raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
  real_logits = _per_example_scores(real_logits, "real_logits")
  fake_logits = _per_example_scores(fake_logits, "fake_logits")
  real_labels = tf.fill(tf.shape(real_logits), 1.0 - label_smoothing)
  real_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=real_labels, logits=real_logits)
  return real_loss + tf.nn.softplus(fake_logits)


def wasserstein_generator_loss(fake_scores):
  """-fake_scores, unbounded. Arjovsky et al. 2017, "Wasserstein GAN", algorithm 1."""
  return -_per_example_scores(fake_scores, "fake_scores")


def wasserstein_discriminator_loss(real_scores, fake_scores):
  """fake_scores - real_scores, unbounded (-W1 for a 1-Lipschitz critic). Arjovsky et al. 2017."""
  real_scores = _per_example_scores(real_scores, "real_scores")
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return fake_scores - real_scores


def least_squares_generator_loss(fake_scores):
  """1/2 (D(G(z)) - 1)^2 on raw scores, in [0, inf). Mao et al. 2017 (LSGAN), eq. 2."""
  return 0.5 * tf.square(_per_example_scores(fake_scores, "fake_scores") - 1.0)


def least_squares_discriminator_loss(real_scores, fake_scores):
  """1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2 on raw scores, in [0, inf). Mao et al. 2017, eq. 2."""
  real_scores = _per_example_scores(real_scores, "real_scores")
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return 0.5 * tf.square(real_scores - 1.0) + 0.5 * tf.square(fake_scores)


def hinge_generator_loss(fake_scores):
  """-D(G(z)), unbounded. Lim & Ye 2017; Miyato et al. 2018, eq. 16."""
  return -_per_example_scores(fake_scores, "fake_scores")


def hinge_discriminator_loss(real_scores, fake_scores):
  """relu(1 - D(x)) + relu(1 + D(G(z))), in [0, inf). Lim & Ye 2017; Miyato et al. 2018."""
  real_scores = _per_example_scores(real_scores, "real_scores")
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return tf.nn.relu(1.0 - real_scores) + tf.nn.relu(1.0 + fake_scores)


GAN_LOSSES = {
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": (non_saturating_generator_loss, non_saturating_discriminator_loss),
    "wasserstein": (wasserstein_generator_loss, wasserstein_discriminator_loss),
    "least_squares": (least_squares_generator_loss, least_squares_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
}


def get_gan_loss(name):
  """The (generator_loss(fake), discriminator_loss(real, fake)) pair called `name`."""
  if name not in GAN_LOSSES:
    valid_names = ", ".join(repr(valid) for valid in GAN_LOSSES)
    raise ValueError(f"Unknown GAN loss {name!r}; expected one of {valid_names}.")
  return GAN_LOSSES[name]


def gradient_penalty(critic_fn, real, fake, epsilon, target=1.0):
  """((||grad f(x_hat)||_2 - target) / target)^2 at x_hat = lerp(fake, real, epsilon), >= 0;
  Gulrajani et al. 2017, eq. 3 (target 1; Karras et al. 2018: 750 on CIFAR-10). real, fake:
  float [batch, ...]; epsilon ~ U(0, 1), [batch, 1, ..., 1]; f must treat examples apart."""
  real = tf.convert_to_tensor(real)
  fake, epsilon = tf.cast(fake, real.dtype), tf.cast(epsilon, real.dtype)
  _check_same_shape(real, fake, "real", "fake")
  # A [batch] epsilon would broadcast against the last axis of an image batch.
  if epsilon.shape.rank != real.shape.rank:
    raise ValueError(f"epsilon must have shape [batch, 1, ..., 1] with the rank of real "
                     f"({real.shape.rank}), got {epsilon.shape}.")
  x_hat = epsilon * real + (1.0 - epsilon) * fake
  with tf.GradientTape() as tape:
    tape.watch(x_hat)
    score_sum = tf.reduce_sum(tf.cast(critic_fn(x_hat), tf.float32))
  gradients = tf.cast(tape.gradient(score_sum, x_hat), tf.float32)
  norms = tf.sqrt(_sum_over_non_batch_axes(tf.square(gradients)) + GRADIENT_NORM_EPSILON)
  return tf.square((norms - target) / target)


def drift_penalty(real_scores):
  """D(x)^2, in [0, inf). Karras et al. 2018 (Progressive GAN), sec. A.1."""
  return tf.square(_per_example_scores(real_scores, "real_scores"))


def r1_penalty(discriminator_fn, real):
  """||grad_x D(x)||_2^2 on real float [batch, ...], in [0, inf). Mescheder et al. 2018, eq. 9."""
  real = tf.convert_to_tensor(real)
  with tf.GradientTape() as tape:
    tape.watch(real)
    logit_sum = tf.reduce_sum(tf.cast(discriminator_fn(real), tf.float32))
  gradients = tf.cast(tape.gradient(logit_sum, real), tf.float32)
  return _sum_over_non_batch_axes(tf.square(gradients))


def squared_error(x, x_hat):
  """sum((x - x_hat)^2) over the non-batch axes of float [batch, ...], in [0, inf)."""
  x, x_hat = tf.cast(x, tf.float32), tf.cast(x_hat, tf.float32)
  _check_same_shape(x, x_hat, "x", "x_hat")
  return _sum_over_non_batch_axes(tf.square(x - x_hat))


def bernoulli_cross_entropy(x, logits):
  """Bernoulli NLL of x in [0, 1] under logits, summed over non-batch axes, in [0, inf)."""
  x, logits = tf.cast(x, tf.float32), tf.cast(logits, tf.float32)
  _check_same_shape(x, logits, "x", "logits")
  return _sum_over_non_batch_axes(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))

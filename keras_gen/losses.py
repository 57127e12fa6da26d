"""GAN losses, gradient penalties and reconstruction losses, all per example.

Every function returns a float32 tensor of shape [batch] and never a mean. The
engine averages with `tf.nn.compute_average_loss(per_example,
global_batch_size=...)`, which divides by the global batch size and so scales
the loss correctly under `tf.distribute` for any number of replicas. Keras loss
objects are deliberately not used: Keras >= 3.8 rescales them by 1/replicas
under a strategy, which would scale the loss twice.

GAN losses come in matched generator/discriminator pairs and take logits (or
critic scores) of shape [batch] or [batch, 1]. Everything is plain TensorFlow,
so it runs eagerly, inside `tf.function` and under XLA (`jit_compile=True`).
"""

import tensorflow as tf

# Added under the square root of the gradient norm so that its derivative,
# x / sqrt(sum(x^2)), stays finite when a gradient is exactly zero.
GRADIENT_NORM_EPSILON = 1e-12


def _per_example_scores(scores, name):
  """Returns `scores` as float32 of shape [batch], from [batch] or [batch, 1]."""
  scores = tf.cast(scores, tf.float32)
  rank = scores.shape.rank
  if rank == 1:
    return scores
  if rank == 2 and scores.shape[1] in (1, None):
    return tf.squeeze(scores, axis=1)
  raise ValueError(
      f"{name} must have shape [batch] or [batch, 1], got {scores.shape}.")


def _sum_over_non_batch_axes(values):
  """Sums a [batch, ...] tensor over every axis but the first."""
  if values.shape.rank is None:
    return tf.reduce_sum(values, axis=tf.range(1, tf.rank(values)))
  return tf.reduce_sum(values, axis=list(range(1, values.shape.rank)))


def _check_same_shape(x, y, x_name, y_name):
  # Broadcasting would silently turn a [batch] and a [batch, 1] into a
  # [batch, batch] loss, so mismatched shapes are an error here.
  if not x.shape.is_compatible_with(y.shape):
    raise ValueError(
        f"{x_name} and {y_name} must have the same shape, "
        f"got {x.shape} and {y.shape}.")


# Minimax GAN.


def minimax_generator_loss(fake_logits):
  """Generator loss of the original minimax GAN, log(1 - D(G(z))), in (-inf, 0].

  Goodfellow et al. 2014, "Generative Adversarial Networks", eq. 1, with D =
  sigmoid(fake_logits). Its gradient vanishes when D confidently rejects fakes
  (D(G(z)) -> 0), which is early in training; hence `non_saturating_generator_loss`.
  """
  fake_logits = _per_example_scores(fake_logits, "fake_logits")
  # log(1 - sigmoid(x)) = log(sigmoid(-x)) = -softplus(x), stable for all x.
  return -tf.nn.softplus(fake_logits)


def minimax_discriminator_loss(real_logits, fake_logits):
  """Discriminator loss of the minimax GAN, -log D(x) - log(1 - D(G(z))), in [0, inf).

  Goodfellow et al. 2014, "Generative Adversarial Networks", eq. 1 (negated,
  so the discriminator minimises it): binary cross-entropy with label 1 on
  real samples and 0 on generated ones.
  """
  real_logits = _per_example_scores(real_logits, "real_logits")
  fake_logits = _per_example_scores(fake_logits, "fake_logits")
  # -log(sigmoid(x)) = softplus(-x) and -log(1 - sigmoid(x)) = softplus(x).
  return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


# Non-saturating GAN.


def non_saturating_generator_loss(fake_logits):
  """Non-saturating generator loss, -log D(G(z)) = softplus(-fake_logits), in [0, inf).

  Goodfellow et al. 2014, "Generative Adversarial Networks", sec. 3: the
  generator maximises log D(G(z)) instead of minimising log(1 - D(G(z))); it
  has the same fixed point but strong gradients early in training.
  """
  fake_logits = _per_example_scores(fake_logits, "fake_logits")
  return tf.nn.softplus(-fake_logits)


def non_saturating_discriminator_loss(real_logits, fake_logits,
                                      label_smoothing=0.0):
  """Discriminator loss paired with the non-saturating generator loss, in [0, inf).

  Goodfellow et al. 2014, "Generative Adversarial Networks", sec. 3: the
  same cross-entropy as `minimax_discriminator_loss`. With `label_smoothing`
  (a Python float in [0, 1)) > 0 the real label becomes 1 - label_smoothing
  while the fake label stays 0 (one-sided label smoothing, Salimans et al.
  2016, "Improved Techniques for Training GANs", sec. 3.4).
  """
  if not 0.0 <= label_smoothing < 1.0:
    raise ValueError(
        f"label_smoothing must be in [0, 1), got {label_smoothing}.")
  real_logits = _per_example_scores(real_logits, "real_logits")
  fake_logits = _per_example_scores(fake_logits, "fake_logits")
  real_labels = tf.fill(tf.shape(real_logits), 1.0 - label_smoothing)
  real_loss = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=real_labels, logits=real_logits)
  return real_loss + tf.nn.softplus(fake_logits)


# Wasserstein GAN.


def wasserstein_generator_loss(fake_scores):
  """Wasserstein GAN generator loss, -f(G(z)) = -fake_scores, unbounded.

  Arjovsky et al. 2017, "Wasserstein GAN", algorithm 1; scores are the
  critic's unbounded outputs, not probabilities.
  """
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return -fake_scores


def wasserstein_discriminator_loss(real_scores, fake_scores):
  """Wasserstein GAN critic loss, f(G(z)) - f(x) = fake_scores - real_scores, unbounded.

  Arjovsky et al. 2017, "Wasserstein GAN", algorithm 1. Its negation
  estimates the Wasserstein-1 distance only if the critic is kept
  1-Lipschitz, e.g. with `gradient_penalty` added by the caller.
  """
  real_scores = _per_example_scores(real_scores, "real_scores")
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return fake_scores - real_scores


# Least-squares GAN.


def least_squares_generator_loss(fake_scores):
  """Least-squares GAN generator loss, 1/2 (D(G(z)) - c)^2 with c = 1, in [0, inf).

  Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2,
  with the 0-1 coding a = 0 (fake), b = 1 (real), c = 1, on raw scores (no sigmoid).
  """
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return 0.5 * tf.square(fake_scores - 1.0)


def least_squares_discriminator_loss(real_scores, fake_scores):
  """Least-squares GAN discriminator loss, in [0, inf).

  Mao et al. 2017, "Least Squares Generative Adversarial Networks", eq. 2:
  1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2 with a = 0 and b = 1, on raw scores.
  """
  real_scores = _per_example_scores(real_scores, "real_scores")
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return 0.5 * tf.square(real_scores - 1.0) + 0.5 * tf.square(fake_scores)


# Hinge GAN.


def hinge_generator_loss(fake_scores):
  """Hinge GAN generator loss, -D(G(z)) = -fake_scores, unbounded.

  Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral
  Normalization for Generative Adversarial Networks", eq. 16.
  """
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return -fake_scores


def hinge_discriminator_loss(real_scores, fake_scores):
  """Hinge GAN discriminator loss, relu(1 - D(x)) + relu(1 + D(G(z))), in [0, inf).

  Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral
  Normalization for Generative Adversarial Networks", eq. 16.
  """
  real_scores = _per_example_scores(real_scores, "real_scores")
  fake_scores = _per_example_scores(fake_scores, "fake_scores")
  return tf.nn.relu(1.0 - real_scores) + tf.nn.relu(1.0 + fake_scores)


GAN_LOSSES = {
    "minimax": (minimax_generator_loss, minimax_discriminator_loss),
    "non_saturating": (non_saturating_generator_loss,
                       non_saturating_discriminator_loss),
    "wasserstein": (wasserstein_generator_loss,
                    wasserstein_discriminator_loss),
    "least_squares": (least_squares_generator_loss,
                      least_squares_discriminator_loss),
    "hinge": (hinge_generator_loss, hinge_discriminator_loss),
}


def get_gan_loss(name):
  """Returns the (generator_loss, discriminator_loss) pair called `name`.

  The generator loss takes fake logits; the discriminator loss takes real
  and fake logits. Both return float32 [batch].
  """
  if name not in GAN_LOSSES:
    valid_names = ", ".join(repr(valid) for valid in GAN_LOSSES)
    raise ValueError(
        f"Unknown GAN loss {name!r}; expected one of {valid_names}.")
  return GAN_LOSSES[name]


# Penalties.


def gradient_penalty(critic_fn, real, fake, epsilon, target=1.0):
  """WGAN-GP gradient penalty, ((||grad_x_hat f(x_hat)||_2 - target) / target)^2, in [0, inf).

  Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", eq. 3 (target
  1), at x_hat = epsilon * real + (1 - epsilon) * fake. Progressive GAN's
  CIFAR-10 run asks for gradients of norm target = gamma = 750 instead, dividing
  by gamma^2 so that lambda keeps its scale (Karras et al. 2018, and the
  official code's loss.py: (norm - gamma)^2 * lambda / gamma^2). The caller
  multiplies by the penalty weight (lambda = 10 in both papers) and
  differentiates the result w.r.t. the critic weights under its own tape
  (double backprop).

  The norm is sqrt(sum(g^2) + GRADIENT_NORM_EPSILON) rather than
  sqrt(sum(g^2)), because the derivative of the plain norm is 0/0 where the
  gradient vanishes. Per-example gradients are read off the gradient of the
  summed scores, which is exact only if the critic treats every example
  independently: no batch normalization (as the paper prescribes).

  Args:
      critic_fn: maps a batch shaped like `real` to scores [batch] or [batch, 1].
      real, fake: real and generated samples, float [batch, ...].
      epsilon: interpolation weights drawn by the caller from uniform(0, 1),
          shape [batch, 1, ..., 1] with the rank of `real`, so the caller
          owns the random number generator.
      target: the gradient norm the penalty pulls towards, > 0.
  """
  real = tf.convert_to_tensor(real)
  fake = tf.cast(fake, real.dtype)
  epsilon = tf.cast(epsilon, real.dtype)
  _check_same_shape(real, fake, "real", "fake")
  # A [batch] epsilon would broadcast against the last axis of an image
  # batch instead of the batch axis, so the ranks must agree.
  if epsilon.shape.rank != real.shape.rank:
    raise ValueError(
        f"epsilon must have shape [batch, 1, ..., 1] with the rank of "
        f"real ({real.shape.rank}), got {epsilon.shape}.")
  x_hat = epsilon * real + (1.0 - epsilon) * fake
  with tf.GradientTape() as tape:
    tape.watch(x_hat)
    scores = critic_fn(x_hat)
    score_sum = tf.reduce_sum(tf.cast(scores, tf.float32))
  gradients = tf.cast(tape.gradient(score_sum, x_hat), tf.float32)
  squared_norms = _sum_over_non_batch_axes(tf.square(gradients))
  norms = tf.sqrt(squared_norms + GRADIENT_NORM_EPSILON)
  return tf.square((norms - target) / target)


def drift_penalty(real_scores):
  """Progressive GAN drift penalty, D(x)^2 of real_scores, in [0, inf).

  Karras et al. 2018, "Progressive Growing of GANs for Improved Quality,
  Stability, and Variation", sec. A.1: keeps critic outputs near zero. The
  caller multiplies by eps_drift (0.001 in the paper).
  """
  real_scores = _per_example_scores(real_scores, "real_scores")
  return tf.square(real_scores)


def r1_penalty(discriminator_fn, real):
  """R1 regularizer, ||grad_x D(x)||_2^2 on real samples float [batch, ...], in [0, inf).

  Mescheder et al. 2018, "Which Training Methods for GANs do actually
  Converge?", eq. 9; `discriminator_fn` maps a batch shaped like `real` to
  logits [batch] or [batch, 1]. The caller multiplies by gamma / 2 and
  differentiates the result w.r.t. the discriminator weights under its own
  tape. As in `gradient_penalty`, the discriminator must treat examples
  independently.
  """
  real = tf.convert_to_tensor(real)
  with tf.GradientTape() as tape:
    tape.watch(real)
    logits = discriminator_fn(real)
    logit_sum = tf.reduce_sum(tf.cast(logits, tf.float32))
  gradients = tf.cast(tape.gradient(logit_sum, real), tf.float32)
  return _sum_over_non_batch_axes(tf.square(gradients))


# Reconstruction losses for autoencoders and VAEs.


def squared_error(x, x_hat):
  """Sum of squared errors per example, sum((x - x_hat)^2) over all non-batch axes, in [0, inf).

  x: targets, float [batch, ...], any range; x_hat: reconstructions of its shape.
  Up to constants, the negative log-likelihood of x under a unit-variance
  Gaussian decoder (Kingma & Welling 2014, "Auto-Encoding Variational
  Bayes", appendix C.2).
  """
  x = tf.cast(x, tf.float32)
  x_hat = tf.cast(x_hat, tf.float32)
  _check_same_shape(x, x_hat, "x", "x_hat")
  return _sum_over_non_batch_axes(tf.square(x - x_hat))


def bernoulli_cross_entropy(x, logits):
  """Bernoulli negative log-likelihood per example, summed over all non-batch axes, in [0, inf).

  -sum(x log sigmoid(logits) + (1 - x) log(1 - sigmoid(logits))) for targets x
  in [0, 1], float [batch, ...], and decoder logits of its shape: the
  reconstruction term of a VAE with a Bernoulli decoder (Kingma & Welling
  2014, "Auto-Encoding Variational Bayes", appendix C.1), computed stably
  by `tf.nn.sigmoid_cross_entropy_with_logits`.
  """
  x = tf.cast(x, tf.float32)
  logits = tf.cast(logits, tf.float32)
  _check_same_shape(x, logits, "x", "logits")
  cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
      labels=x, logits=logits)
  return _sum_over_non_batch_axes(cross_entropy)

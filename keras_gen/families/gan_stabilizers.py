"""Stabilizers the GAN step applies around its updates: instance noise, the R1
penalty's schedule, weight clipping and the generator's moving average (G_ema).

They live apart from `gan.py` because each is a small, separately tested rule
about variables or inputs, and none knows which loss is being trained.
"""

import tensorflow as tf


def instance_noise_std(hparams, step):
  """The instance-noise standard deviation at `step` (an int64 scalar tensor).

  Arjovsky & Bottou 2017, "Towards Principled Methods for Training Generative
  Adversarial Networks", sec. 4: Gaussian noise on D's inputs makes the real and
  fake distributions overlap, so D's gradient stays informative; it is annealed
  so that the model converges to the data, not to the data plus noise. The
  schedule is linear: instance_noise_std at step 0, falling to 0 at
  step instance_noise_anneal_steps and staying there (constant if that is 0).

  Returns:
    float32 scalar in [0, instance_noise_std].
  """
  return linear_anneal(hparams["instance_noise_std"], hparams["instance_noise_anneal_steps"],
                       step)


def r1_gamma(hparams, step):
  """The R1 penalty's gamma at `step` (an int64 scalar tensor).

  Mescheder et al. 2018 keep gamma constant (r1_gamma_anneal_steps 0). A
  strong penalty early keeps every mode of a toy mixture but holds D too flat
  near modes narrower than its reach; annealing gamma to 0, as Roth et al. 2017
  ("Stabilizing Training of Generative Adversarial Networks through
  Regularization") anneal their regularizer's weight, lets D sharpen late.
  Linear: r1_gamma at step 0, 0 from step r1_gamma_anneal_steps on.

  Returns:
    float32 scalar in [0, r1_gamma].
  """
  return linear_anneal(hparams["r1_gamma"], hparams["r1_gamma_anneal_steps"], step)


def linear_anneal(initial, anneal_steps, step):
  """initial at step 0, falling linearly to 0 at anneal_steps; constant if anneal_steps is 0."""
  initial = tf.constant(initial, tf.float32)
  if anneal_steps <= 0:
    return initial
  remaining = 1.0 - tf.cast(step, tf.float32) / float(anneal_steps)
  return initial * tf.clip_by_value(remaining, 0.0, 1.0)


def add_instance_noise(x, std, context, salt):
  """x + std * N(0, 1) of x's shape ([per-replica batch, ...]), drawn from the step context."""
  return x + std * context.normal(x.shape, salt=salt)


def clip_weights(variables, clip_value, context):
  """Clips every weight to [-clip_value, clip_value] (WGAN, Arjovsky et al. 2017, algorithm 1)."""
  context.assign(variables, [tf.clip_by_value(v, -clip_value, clip_value) for v in variables])


def copy_weights(target, source):
  """Sets every variable of model `target` to the value of the same variable of `source`.

  For `build`, which runs in the strategy's cross-replica scope, where an
  assignment reaches every replica's copy.
  """
  for variable, value in zip(target.variables, source.variables):
    variable.assign(tf.convert_to_tensor(value))


def ema_decay(hparams, step):
  """G_ema's decay for the update after `step` G steps (an int64 scalar tensor).

  With ema_warmup, min(ema_decay, (1 + step) / (10 + step)): the num_updates
  rule of TensorFlow's ExponentialMovingAverage, so early on G_ema averages
  over roughly the last tenth of training instead of holding on to the random
  initialization for ~1 / (1 - ema_decay) steps (0.999: 22% of it is left
  after 1,500 steps). Short runs need it; Karras et al. ramp theirs up likewise.

  Returns:
    float32 scalar in [0, ema_decay].
  """
  decay = tf.constant(hparams["ema_decay"], tf.float32)
  if not hparams["ema_warmup"]:
    return decay
  step = tf.cast(step, tf.float32)
  return tf.minimum(decay, (1.0 + step) / (10.0 + step))


def update_ema(G_ema, G, ema_decay, context):
  """G_ema <- ema_decay * G_ema + (1 - ema_decay) * G for the weights; buffers are copied.

  The generator moving average of Karras et al. 2018 (Progressive GAN) and
  Yazici et al. 2019 ("The Unusual Effectiveness of Averaging in GAN
  Training"). Non-trainable buffers (batch-norm statistics) are copied, as
  StyleGAN does, because averaging statistics of different weights has no meaning.
  """
  trainable = [ema_decay * tf.convert_to_tensor(average) + (1.0 - ema_decay) * tf.convert_to_tensor(v)
               for average, v in zip(G_ema.trainable_variables, G.trainable_variables)]
  buffers = [tf.convert_to_tensor(v) for v in G.non_trainable_variables]
  context.assign(G_ema.trainable_variables + G_ema.non_trainable_variables, trainable + buffers)

"""Stabilizers the GAN step applies around its updates: instance noise, the R1 penalty's
schedule, weight clipping and the generator's moving average (G_ema)."""

import tensorflow as tf


def instance_noise_std(hparams, step):
  """instance_noise_std annealed linearly to 0 at instance_noise_anneal_steps (Arjovsky &
  Bottou 2017, sec. 4), a float32 scalar."""
  return linear_anneal(hparams["instance_noise_std"], hparams["instance_noise_anneal_steps"], step)


def r1_gamma(hparams, step):
  """r1_gamma annealed linearly to 0 at r1_gamma_anneal_steps (Roth et al. 2017), float32."""
  return linear_anneal(hparams["r1_gamma"], hparams["r1_gamma_anneal_steps"], step)


def linear_anneal(initial, anneal_steps, step):
  """initial at step 0, falling linearly to 0 at anneal_steps; constant if anneal_steps is 0."""
  initial = tf.constant(initial, tf.float32)
  if anneal_steps <= 0:
    return initial
  remaining = 1.0 - tf.cast(step, tf.float32) / float(anneal_steps)
  return initial * tf.clip_by_value(remaining, 0.0, 1.0)


def add_instance_noise(x, std, context, salt):
  return x + std * context.normal(x.shape, salt=salt)


def clip_weights(variables, clip_value, context):
  """Clips every weight to [-clip_value, clip_value] (WGAN, Arjovsky et al. 2017, algorithm 1)."""
  context.assign(variables, [tf.clip_by_value(v, -clip_value, clip_value) for v in variables])


def copy_weights(target, source):
  """Sets every variable of model `target` to `source`'s; run in the cross-replica scope."""
  for variable, value in zip(target.variables, source.variables):
    variable.assign(tf.convert_to_tensor(value))


def ema_decay(hparams, step):
  """G_ema's decay after `step` G steps: ema_decay, or with ema_warmup
  min(ema_decay, (1 + step) / (10 + step)) (TensorFlow's ExponentialMovingAverage)."""
  decay = tf.constant(hparams["ema_decay"], tf.float32)
  if not hparams["ema_warmup"]:
    return decay
  step = tf.cast(step, tf.float32)
  return tf.minimum(decay, (1.0 + step) / (10.0 + step))


def update_ema(G_ema, G, ema_decay, context):
  """G_ema <- ema_decay * G_ema + (1 - ema_decay) * G for weights; buffers (batch-norm
  statistics) are copied. Karras et al. 2018; Yazici et al. 2019."""
  trainable = [ema_decay * tf.convert_to_tensor(average) + (1.0 - ema_decay) * tf.convert_to_tensor(v)
               for average, v in zip(G_ema.trainable_variables, G.trainable_variables)]
  buffers = [tf.convert_to_tensor(v) for v in G.non_trainable_variables]
  context.assign(G_ema.trainable_variables + G_ema.non_trainable_variables, trainable + buffers)

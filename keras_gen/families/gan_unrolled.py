"""The unrolled generator loss of Metz et al. 2017, "Unrolled Generative Adversarial Networks":
G against D after K simulated Adam updates on weight tensors (`D.stateless_call`), eq. 6.
"""

import tensorflow as tf

from keras_gen.families import salts

# Inside Adam's square root, whose infinite derivative at 0 would turn a zero gradient into NaN.
_SQRT_EPSILON = 1e-30


def _adam_state(optimizer, variables):
  optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer.
  indices = [optimizer._get_variable_index(v) for v in variables]  # pylint: disable=protected-access
  momentums = [tf.convert_to_tensor(optimizer._momentums[i]) for i in indices]  # pylint: disable=protected-access
  velocities = [tf.convert_to_tensor(optimizer._velocities[i]) for i in indices]  # pylint: disable=protected-access
  return (tf.cast(optimizer.learning_rate, tf.float32), optimizer.beta_1, optimizer.beta_2,
          optimizer.epsilon, tf.cast(optimizer.iterations, tf.float32), momentums, velocities)


def unrolled_discriminator_weights(D, d_optimizer, discriminator_loss, real, fake, unroll_steps,
                                   context, d_input=lambda x, salt: x, penalty=None, clip_value=0.0):
  """(D's trainable weights after unroll_steps simulated Adam steps from d_optimizer's state,
  its buffers), differentiable w.r.t. `fake`; d_input, penalty(discriminator_fn, real, fake,
  unroll_step) and clip_value make each step D's real update."""
  weights = [tf.convert_to_tensor(v) for v in D.trainable_variables]
  buffers = [tf.convert_to_tensor(v) for v in D.non_trainable_variables]
  if unroll_steps == 0:
    return weights, buffers
  (learning_rate, beta_1, beta_2, epsilon, iterations, momentums,
   velocities) = _adam_state(d_optimizer, D.trainable_variables)
  for unroll_step in range(unroll_steps):
    real_noise_salt = salts.indexed(salts.GAN_UNROLLED_REAL_NOISE, unroll_step, 2)
    fake_noise_salt = salts.indexed(salts.GAN_UNROLLED_FAKE_NOISE, unroll_step, 2)
    with tf.GradientTape() as tape:
      tape.watch(weights)
      real_logits, _ = D.stateless_call(weights, buffers, d_input(real, real_noise_salt),
                                          training=True)
      fake_logits, _ = D.stateless_call(weights, buffers, d_input(fake, fake_noise_salt),
                                          training=True)
      loss = context.average(discriminator_loss(real_logits, fake_logits))
      if penalty is not None:
        loss += penalty(lambda x: D.stateless_call(weights, buffers, x, training=True)[0],
                        real, fake, unroll_step)
    # Each replica holds a slice of the global batch; the real update sums them.
    gradients = context.all_reduce_sum(tape.gradient(loss, weights))
    local_step = iterations + float(unroll_step + 1)
    alpha = (learning_rate * tf.sqrt(1.0 - tf.pow(beta_2, local_step))
             / (1.0 - tf.pow(beta_1, local_step)))
    new_weights = []
    for index, (weight, gradient) in enumerate(zip(weights, gradients)):
      momentums[index] = momentums[index] + (gradient - momentums[index]) * (1.0 - beta_1)
      velocities[index] = (velocities[index]
                           + (tf.square(gradient) - velocities[index]) * (1.0 - beta_2))
      new_weight = weight - momentums[index] * alpha / (
          tf.sqrt(velocities[index] + _SQRT_EPSILON) + epsilon)
      if clip_value > 0:
        new_weight = tf.clip_by_value(new_weight, -clip_value, clip_value)
      new_weights.append(new_weight)
    weights = new_weights
  return weights, buffers


def unrolled_generator_loss(D, d_optimizer, generator_loss, discriminator_loss, real, fake,
                            unroll_steps, first_order, context, d_input=lambda x, salt: x,
                            penalty=None, clip_value=0.0):
  """f_K of Metz et al. 2017, eq. 5, a float32 scalar; call under G's tape with fake = G(z)."""
  weights, buffers = unrolled_discriminator_weights(
      D, d_optimizer, discriminator_loss, real, tf.stop_gradient(fake) if first_order else fake,
      unroll_steps, context, d_input, penalty, clip_value)
  if first_order:
    weights = [tf.stop_gradient(w) for w in weights]
  fake_logits, _ = D.stateless_call(weights, buffers, d_input(fake, salts.GAN_G_NOISE),
                                    training=True)
  return context.average(generator_loss(fake_logits))

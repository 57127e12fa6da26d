"""Every salt of the families' random streams (a draw is f(seed, step, salt)), in one table so
no two streams share one; changing a value changes what a seed trains."""

# GAN (gan.py, gan_unrolled.py). "+ d": the d-th D update of a step; "+ k": the k-th
# simulated D step of the unrolled loss.
GAN_Z = 0                        # z of G's update (the last D update shares it).
GAN_EXTRA_D_Z = 1                # + d: z of D update d < n_critic - 1.
GAN_D_REAL_NOISE = 100           # + 2 d: instance noise on D update d's real input,
GAN_D_FAKE_NOISE = 101           # + 2 d: and on its fake input.
GAN_D_PENALTY = 200              # + d: the gradient penalty's interpolation weights.
GAN_G_NOISE = 300                # Instance noise on the fake input of G's loss.
GAN_UNROLLED_REAL_NOISE = 500    # + 2 k: instance noise on a simulated step's real input,
GAN_UNROLLED_FAKE_NOISE = 501    # + 2 k: and on its fake input.
GAN_UNROLLED_PENALTY = 600       # + k: its gradient penalty's interpolation weights.
# n_critic and unroll_steps go up to this: each indexed stream above has a block of 100
# salts, and a stride-2 pair of streams fills 2 * MAX_INDEX of it.
MAX_INDEX = 50


def indexed(stream, index, stride=1):
  """stream + stride * index, the salt of draw `index` (< MAX_INDEX) of an indexed stream."""
  if not 0 <= index < MAX_INDEX:
    raise ValueError(f"Random stream {stream} has salts for indices 0-{MAX_INDEX - 1}, not "
                     f"{index}.")
  return stream + stride * index


# Progressive GAN (progan.py): z of D's update, the penalty's weights, z of G's update,
# the mirror augmentation's coins.
PROGAN_D_Z, PROGAN_PENALTY, PROGAN_G_Z, PROGAN_MIRROR = 0, 1, 2, 3
# Autoencoders: the denoising corruption's Gaussian noise, which pixels it hits, salt or
# pepper; the stochastic code noise (summaries draw a second with 2); the VAE's dynamic
# binarization, epsilon and prior samples in summaries.
DENOISING_NORMAL, DENOISING_UNIFORM, DENOISING_COIN = 1, 2, 3
STOCHASTIC_CODE, STOCHASTIC_SECOND_CODE = 1, 2
VAE_BINARIZATION, VAE_EPSILON, VAE_PRIOR_Z = 1, 2, 3
# Summaries of every generator; + draw for the point cloud's draws.
SUMMARY_Z = 1_000_003

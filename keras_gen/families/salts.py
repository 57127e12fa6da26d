"""The salts of every random stream the families draw: a draw is f(seed, step, salt).

One table, so that two streams never share a salt by accident. The values are
those every recorded run used; changing one changes what a seed trains.
"""

# GAN (gan.py, gan_unrolled.py). "+ d": the d-th D update of a step (0 <= d < n_critic);
# "+ k": the k-th simulated D step of the unrolled loss.
GAN_Z = 0                        # z of G's update (the last D update shares it).
GAN_EXTRA_D_Z = 1                # + d: z of D update d < n_critic - 1.
GAN_D_REAL_NOISE = 100           # + 2 d: instance noise on D update d's real input.
GAN_D_FAKE_NOISE = 101           # + 2 d: instance noise on its fake input.
GAN_D_PENALTY = 200              # + d: the gradient penalty's interpolation weights.
GAN_G_NOISE = 300                # Instance noise on the fake input of G's loss.
GAN_UNROLLED_REAL_NOISE = 500    # + 2 k: instance noise on a simulated step's real input.
GAN_UNROLLED_FAKE_NOISE = 501    # + 2 k: on its fake input.
GAN_UNROLLED_PENALTY = 600       # + k: a simulated step's gradient-penalty weights.

# Progressive GAN (progan.py).
PROGAN_D_Z = 0                   # z of D's update.
PROGAN_PENALTY = 1               # The gradient penalty's interpolation weights.
PROGAN_G_Z = 2                   # z of G's update.

# Autoencoders.
DENOISING_NORMAL = 1             # Gaussian corruption noise.
DENOISING_UNIFORM = 2            # Which pixels masking / salt-and-pepper corrupts.
DENOISING_COIN = 3               # Salt or pepper.
STOCHASTIC_CODE = 1              # Code noise of a step; summaries draw it again with 2.
STOCHASTIC_SECOND_CODE = 2
VAE_BINARIZATION = 1             # Dynamic binarization of the targets.
VAE_EPSILON = 2                  # The reparameterization's epsilon.
VAE_PRIOR_Z = 3                  # Prior samples in summaries.

# Summaries (every generator): + draw for the point-cloud's draws.
SUMMARY_Z = 1_000_003

"""A test-only family: the GAN family, whose losses turn NaN at chosen steps.

Registered under the name "nan_dcgan" (with dcgan's presets) by the tests that use
it. As in `nan_progan`, every loss the step averages is multiplied by NaN when
1 + step is in nan_steps.
"""

import nan_progan
from keras_gen.families import gan

KIND = gan.KIND
DATA_KINDS = gan.DATA_KINDS
DEFAULT_HPARAMS = dict(gan.DEFAULT_HPARAMS, nan_steps=[0])
validate_hparams = gan.validate_hparams
minibatches_per_step = gan.minibatches_per_step
build = gan.build
optimizers = gan.optimizers
summaries = gan.summaries
serving = gan.serving
features = gan.features


def train_step(networks, optimizers, batch, context, hparams):
  return gan.train_step(networks, optimizers, batch, nan_progan.poisoned(context, hparams),
                        hparams)

"""The salts table: no two random streams share a salt at any index the hparams allow."""

import pytest

from keras_gen.families import gan
from keras_gen.families import salts


def _gan_family_salts():
  """Every salt a GAN step (n_critic and unroll_steps at their largest) and its summaries
  can draw with, as (stream name, index) -> salt."""
  used = {("GAN_Z", 0): salts.GAN_Z, ("GAN_G_NOISE", 0): salts.GAN_G_NOISE}
  for index in range(salts.MAX_INDEX):
    for name, stride in (("GAN_EXTRA_D_Z", 1), ("GAN_D_REAL_NOISE", 2), ("GAN_D_FAKE_NOISE", 2),
                         ("GAN_D_PENALTY", 1), ("GAN_UNROLLED_REAL_NOISE", 2),
                         ("GAN_UNROLLED_FAKE_NOISE", 2), ("GAN_UNROLLED_PENALTY", 1)):
      used[(name, index)] = salts.indexed(getattr(salts, name), index, stride)
  return used


def test_no_two_gan_draws_share_a_salt_up_to_the_largest_n_critic_and_unroll_steps():
  used = _gan_family_salts()
  assert len(set(used.values())) == len(used)
  assert salts.SUMMARY_Z > max(used.values())


def test_an_index_past_the_streams_block_is_refused_not_wrapped_into_the_next_stream():
  assert salts.indexed(salts.GAN_D_REAL_NOISE, salts.MAX_INDEX - 1, 2) == 198
  with pytest.raises(ValueError, match="indices 0-49, not 50"):
    salts.indexed(salts.GAN_D_REAL_NOISE, salts.MAX_INDEX, 2)


@pytest.mark.parametrize("name", ["n_critic", "unroll_steps"])
def test_gan_refuses_more_updates_per_step_than_the_salts_table_holds(name):
  hparams = dict(gan.DEFAULT_HPARAMS, **{name: salts.MAX_INDEX + 1})
  with pytest.raises(ValueError, match=f"{name} must be at most 50"):
    gan.validate_hparams(hparams)
  gan.validate_hparams(dict(gan.DEFAULT_HPARAMS, n_critic=salts.MAX_INDEX))

"""Building blocks shared by several families' networks."""


def resolution_plan(size, max_doublings=4, min_start=4):
  """Splits an image size into (start size, number of 2x resamplings).

  A generator grows from `start` by doubling; an encoder or discriminator halves
  down to it. 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4).
  """
  doublings = 0
  while size % 2 == 0 and size // 2 >= min_start and doublings < max_doublings:
    size //= 2
    doublings += 1
  return size, doublings

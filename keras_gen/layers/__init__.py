"""Building blocks shared by several families' networks."""


def resolution_plan(size, max_doublings=4, min_start=4):
  """(start size, 2x resamplings) from an image size: 28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4)."""
  doublings = 0
  while size % 2 == 0 and size // 2 >= min_start and doublings < max_doublings:
    size //= 2
    doublings += 1
  return size, doublings

"""The one exception the data package raises for data a user got wrong."""


class DataError(ValueError):
  """A dataset that is missing, corrupt or unusable.

  The message is one sentence naming the dataset, file or directory and what
  was expected of it.
  """

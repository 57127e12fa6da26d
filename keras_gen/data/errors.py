"""The one exception the data package raises for data a user got wrong."""


class DataError(ValueError):
  """A dataset missing, corrupt or unusable: one sentence naming it and what was expected."""

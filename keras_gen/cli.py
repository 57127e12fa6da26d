"""What the thin command-line entry points share: flag errors exit with code 2."""

import os
import sys

from absl import flags
from absl import logging


def quiet_tensorflow():
  """Keeps TensorFlow's and absl's INFO chatter out of the progress lines."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  logging.set_verbosity(logging.WARNING)


def parse_flags_or_exit(argv):
  """absl's parser, but a bad flag is one line on stderr and exit code 2."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"Error: {e}", file=sys.stderr)
    print(f"Run `{argv[0]} --help` for the list of flags.", file=sys.stderr)
    sys.exit(2)


def reject_positional_arguments(argv):
  if len(argv) > 1:
    print(f"Error: unexpected arguments {argv[1:]}; every option is a --flag.", file=sys.stderr)
    sys.exit(2)

"""What the entry points share: `run(main)` (exit 2 on a flag error, 0 after --help, one line
and 130 on Ctrl-C), `start(argv)`, then `quiet_tensorflow()` (never for --help), --verbose."""

import os
import signal
import sys

from absl import app
from absl import flags
from absl import logging

from keras_gen import storage
from keras_gen import tf_startup

flags.DEFINE_bool("verbose", False, "Show TensorFlow's C++ start-up and INFO lines and absl's "
                  "INFO logging (hidden by default; setting TF_CPP_MIN_LOG_LEVEL also shows them).")


INTERRUPTED_EXIT_CODE = 128 + 2  # SIGINT's, as a shell reports a process it ended.


def run(main, interrupted="Interrupted."):
  """absl's app.run of `main`; an uncaught Ctrl-C prints `interrupted` (what is left behind)
  instead of a traceback, and a reader that stops early (`--help | head`) ends quietly."""
  # Ctrl-C is a KeyboardInterrupt again (keras_gen/__init__.py held it during the imports).
  signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    app.run(main, flags_parser=parse_flags_or_exit)
  except KeyboardInterrupt:
    print(interrupted, file=sys.stderr, flush=True)
    sys.exit(INTERRUPTED_EXIT_CODE)
  except BrokenPipeError:
    _discard_stdout()
    sys.exit(0)


def _discard_stdout():
  """Points stdout at /dev/null: its reader has gone, and a flush at exit would raise."""
  os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def start(argv):
  """Refuses positional arguments and, unless --verbose, quiets absl's INFO lines."""
  reject_positional_arguments(argv)
  if not _verbose():
    logging.set_verbosity(logging.WARNING)


def quiet_tensorflow():
  tf_startup.import_tensorflow(verbose=_verbose())
  if not _verbose():
    logging.set_verbosity(logging.WARNING)


def _verbose():
  # An argparse tool (tools/dataset_tool.py) has no parsed absl flags, hence no --verbose.
  return flags.FLAGS.is_parsed() and flags.FLAGS.verbose


def parse_flags_or_exit(argv):
  """absl's parser; a bad flag is one line on stderr and exit 2, and --help* exits 0."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"Error: {e}", file=sys.stderr)
    print(f"Run `{argv[0]} --help` for the list of flags.", file=sys.stderr)
    sys.exit(2)
  except SystemExit as e:
    # absl's help flags are the parser's only exits, all with status 1.
    try:
      sys.stdout.flush()
    except BrokenPipeError:
      _discard_stdout()
    sys.exit(0 if e.code == 1 else e.code)


def reject_positional_arguments(argv):
  if len(argv) > 1:
    usage_error(f"unexpected arguments {argv[1:]}; every option is a --flag.")


def usage_error(message):
  print(f"Error: {message}", file=sys.stderr)
  sys.exit(2)


def exit_on_user_error(function, *args):
  """Runs `function`; a ConfigError, StorageError or DataError becomes one line and exit 2."""
  from keras_gen import config as config_lib  # pylint: disable=g-import-not-at-top
  from keras_gen import data  # pylint: disable=g-import-not-at-top
  try:
    return function(*args)
  except (config_lib.ConfigError, storage.StorageError, data.DataError) as e:
    usage_error(str(e))

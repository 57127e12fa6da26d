"""Screenshots TensorBoard's tabs in headless Chromium: `python tools/tensorboard_screenshot.py`.

  python tools/tensorboard_screenshot.py --logdir=runs --output_dir=docs/tensorboard

Starts `tensorboard --logdir` on a free localhost port, waits until it has read
the runs, then has headless Chromium (--chromium, /usr/bin/chromium by default)
load each tab of --tabs and write it as OUTPUT_DIR/<prefix><tab>.png. The
TensorBoard it started is stopped at the end. TensorBoard's pages load their
data asynchronously, so Chromium is given --virtual_time_budget milliseconds of
page time before it takes the picture. --tag_filter narrows the time-series and
scalars tabs to matching tags (a regular expression, e.g. "metrics|loss").
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import flags  # noqa: E402

from keras_gen import cli  # noqa: E402

TABS = ("timeseries", "scalars", "hparams")
# What a headless Chromium needs here, and nothing that reaches out to Google's services.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")

flags.DEFINE_string("logdir", "", "The runs to show (TensorBoard's --logdir).")
flags.DEFINE_string("output_dir", "docs/tensorboard", "Where the PNGs go.")
flags.DEFINE_string("prefix", "", "File name prefix of the PNGs.")
flags.DEFINE_list("tabs", ["scalars", "hparams"], "Tabs to shoot: " + ", ".join(TABS) +
                  " (the time series tab draws its cards lazily; the scalars tab is reliable).")
flags.DEFINE_string("tag_filter", "", "Only tags matching this regular expression (time "
                    "series and scalars tabs).")
flags.DEFINE_string("chromium", "/usr/bin/chromium", "The Chromium executable.")
flags.DEFINE_string("window_size", "1400,900", "Browser window WIDTH,HEIGHT in pixels.")
flags.DEFINE_integer("virtual_time_budget", 15000, "Page time (ms) Chromium lets the page "
                     "load before the screenshot.")
flags.DEFINE_integer("timeout", 120, "Seconds to wait for TensorBoard, and for each screenshot.")
FLAGS = flags.FLAGS


def free_port():
  """A TCP port on localhost that nothing listens on now."""
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    probe.bind(("localhost", 0))
    return probe.getsockname()[1]


def wait_for_runs(port, timeout):
  """Waits until TensorBoard on `port` lists at least one run; returns the runs."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    try:
      with urllib.request.urlopen(f"http://localhost:{port}/data/runs", timeout=5) as response:
        runs = json.load(response)
      if runs:
        return runs
    except (urllib.error.URLError, ConnectionError, ValueError):
      pass
    time.sleep(1)
  raise TimeoutError(f"TensorBoard on port {port} listed no run within {timeout} s.")


def tab_url(port, tab, tag_filter=""):
  """The tab's address; the scalars tab takes its settings in the fragment (no smoothing,
  so a short run's few points are drawn as they are), the time series tab in the query."""
  tag_filter = urllib.parse.quote(tag_filter)
  if tab == "scalars":
    return (f"http://localhost:{port}/#scalars&_smoothingWeight=0"
            + (f"&tagFilter={tag_filter}" if tag_filter else ""))
  query = f"?tagFilter={tag_filter}" if tag_filter and tab == "timeseries" else ""
  return f"http://localhost:{port}/{query}#{tab}"


def screenshot(chromium, url, path, window_size, virtual_time_budget, timeout):
  """Writes Chromium's picture of `url` to `path`, with a fresh profile folder."""
  with tempfile.TemporaryDirectory(prefix="chromium_profile_") as profile:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
               f"--window-size={window_size}", f"--virtual-time-budget={virtual_time_budget}",
               f"--screenshot={os.path.abspath(path)}", url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
  if result.returncode != 0 or not os.path.exists(path):
    raise RuntimeError(f"Chromium could not screenshot {url}: {result.stderr.strip()[-500:]}")


def main(argv):
  cli.start(argv)
  if not FLAGS.logdir or not os.path.isdir(FLAGS.logdir):
    cli.usage_error(f"--logdir={FLAGS.logdir!r} is not a folder of runs.")
  unknown = sorted(set(FLAGS.tabs) - set(TABS))
  if unknown:
    cli.usage_error(f"--tabs: {', '.join(unknown)} not among {', '.join(TABS)}.")
  if not os.access(FLAGS.chromium, os.X_OK):
    cli.usage_error(f"--chromium={FLAGS.chromium} is not an executable (apt-get install chromium).")
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  port = free_port()
  with tempfile.TemporaryFile() as log:
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", f"--logdir={FLAGS.logdir}",
         f"--port={port}", "--host=localhost"], stdout=log, stderr=log)
    try:
      runs = wait_for_runs(port, FLAGS.timeout)
      print(f"TensorBoard on port {port} shows {len(runs)} runs: {', '.join(runs)}")
      for tab in FLAGS.tabs:
        path = os.path.join(FLAGS.output_dir, f"{FLAGS.prefix}{tab}.png")
        screenshot(FLAGS.chromium, tab_url(port, tab, FLAGS.tag_filter), path,
                   FLAGS.window_size, FLAGS.virtual_time_budget, FLAGS.timeout)
        print(f"Wrote {path}")
    except (TimeoutError, RuntimeError, subprocess.TimeoutExpired) as e:
      log.seek(0)
      print(f"Error: {e}\nTensorBoard's output:\n{log.read().decode()[-2000:]}", file=sys.stderr)
      sys.exit(1)
    finally:
      server.terminate()
      server.wait(timeout=30)


if __name__ == "__main__":
  cli.run(main)

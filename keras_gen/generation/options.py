"""What `python -m keras_gen.generate` is asked to draw, and the limits on it; imports no
TensorFlow, so bad flags are refused before anything loads."""

import dataclasses

from keras_gen import config as config_lib
from keras_gen.generation import latents

MODES = ("grid", "interpolate", "video", "timeline", "reconstruct")
SOURCES = ("prior", "images")
MAX_IMAGES = 1024                # Images in one picture: serving.MAX_BATCH, one request.
MAX_CELLS = 64                   # Cells in one video frame or timeline row.
MAX_FRAMES = 1000
MAX_VIDEO_IMAGES = 16384         # Frames x cells: what a video holds in memory.
MAX_POINTS = 100_000
MAX_CHECKPOINTS = 64
DEFAULT_SHAPES = {"grid": (8, 8), "interpolate": (8, 0), "video": (4, 4), "timeline": (0, 8),
                  "reconstruct": (4, 8)}


@dataclasses.dataclass
class Options:
  """What to draw; field names match the flags of `keras_gen.generate`."""
  mode: str
  model_dir: str = ""          # A run folder (checkpoints) ...
  saved_model: str = ""        # ... or an export ...
  pretrained: str = ""         # ... or a model of zoo/pretrained/ (a name or its folder).
  step: int | None = None      # With model_dir: this training step's checkpoint, not the newest.
  output_dir: str = ""         # Default: MODEL_DIR/generated, beside the export, or ./generated.
  seed: int = 0
  rows: int = 0                # 0: DEFAULT_SHAPES[mode].
  columns: int = 0
  steps: int = 10              # interpolate: images per strip, both endpoints included.
  truncation: float = 0.0      # > 0: redraw z components beyond it (prior latents only).
  interpolation: str = ""      # slerp | linear; default slerp for prior latents, linear for codes.
  source: str = ""             # prior | images; default per mode and model (module docstring).
  latents: str = ""            # .npy [K, latent_dim] of given endpoints (interpolate).
  indices: tuple = ()          # Endpoint pairs: rows of `latents`, or examples of `split`.
  frames: int = 120            # video.
  fps: int = 24                # video.
  mp4: bool = False            # video: also an MP4 (needs imageio with ffmpeg).
  checkpoints: int = 8         # timeline: at most this many rows, evenly over the run.
  num_points: int = 2500       # Points generators: samples per scatter.
  split: str = "test"          # Real images for autoencoders.
  data_dir: str = ""
  tensorboard: bool = False


def shape(options):
  rows, columns = DEFAULT_SHAPES[options.mode]
  return options.rows or rows, options.columns or columns


def check(options):
  """Raises ConfigError naming the first flag out of range or too large."""
  if options.mode not in MODES:
    raise config_lib.ConfigError(f"--mode={options.mode!r} is not one of {', '.join(MODES)}.")
  config_lib.check_model_source(options.model_dir, options.saved_model, options.pretrained,
                                options.step)
  if options.step is not None and options.mode == "timeline":
    raise config_lib.ConfigError("--step picks one checkpoint; --mode=timeline draws every "
                                 "checkpoint of the run (choose how many with --checkpoints).")
  rows, columns = shape(options)
  if min(options.rows, options.columns, options.steps, options.frames, options.fps,
         options.checkpoints, options.num_points) < 0 or options.truncation < 0:
    raise config_lib.ConfigError("--rows, --columns, --steps, --frames, --fps, --checkpoints, "
                                 "--num_points and --truncation must not be negative.")
  for flag, choices in (("interpolation", latents.INTERPOLATIONS), ("source", SOURCES)):
    value = getattr(options, flag)
    if value not in ("",) + choices:
      raise config_lib.ConfigError(f"--{flag}={value!r} is not one of {', '.join(choices)}.")
  if len(options.indices) > MAX_IMAGES:
    raise config_lib.ConfigError(f"--indices names {len(options.indices)} examples; one picture "
                                 f"holds at most {MAX_IMAGES}.")
  if not 1 <= options.num_points <= MAX_POINTS:
    raise config_lib.ConfigError(f"--num_points={options.num_points} is not in [1, {MAX_POINTS}].")
  if options.mode in ("grid", "reconstruct") and rows * columns > MAX_IMAGES:
    raise config_lib.ConfigError(
        f"--rows={rows} x --columns={columns} asks for {rows * columns} images; "
        f"one picture holds at most {MAX_IMAGES}.")
  if options.mode == "interpolate":
    if options.steps < 2:
      raise config_lib.ConfigError(f"--steps={options.steps}: a strip needs at least 2 images.")
    if rows * (options.steps + 2) > MAX_IMAGES:
      raise config_lib.ConfigError(
          f"--rows={rows} strips of --steps={options.steps} ask for more than {MAX_IMAGES} "
          "images in one picture.")
  if options.mode == "video":
    if not 2 <= options.frames <= MAX_FRAMES:
      raise config_lib.ConfigError(f"--frames={options.frames} is not in [2, {MAX_FRAMES}].")
    if rows * columns > MAX_CELLS or rows * columns * options.frames > MAX_VIDEO_IMAGES:
      raise config_lib.ConfigError(
          f"--rows={rows} x --columns={columns} cells over --frames={options.frames} is too "
          f"large a video: at most {MAX_CELLS} cells and {MAX_VIDEO_IMAGES} images in all.")
    if options.fps < 1:
      raise config_lib.ConfigError(f"--fps={options.fps} must be at least 1.")
  if options.mode == "timeline":
    if columns > MAX_CELLS or not 1 <= options.checkpoints <= MAX_CHECKPOINTS:
      raise config_lib.ConfigError(
          f"--columns={columns} and --checkpoints={options.checkpoints}: a timeline has at most "
          f"{MAX_CELLS} columns and 1 to {MAX_CHECKPOINTS} checkpoints.")

"""The pictures `python -m keras_gen.generate` makes, one function per --mode: grid,
interpolate (slerp between prior latents, linear between codes of real images), video (a
looping latent walk), timeline (a row per checkpoint) and reconstruct (with MSE and PSNR).
Files go to OUTPUT_DIR as `<model>_step<step>_<mode>..._seed<seed>.<ext>`."""

import dataclasses
import functools
import io
import json
import os

import numpy as np
import tensorflow as tf

from keras_gen import config as config_lib
from keras_gen import data
from keras_gen import plots
from keras_gen import storage
from keras_gen.engine import summaries
from keras_gen.generation import gif
from keras_gen.generation import latents
from keras_gen.generation import layout
from keras_gen.generation import models
from keras_gen.generation import options as options_lib


@dataclasses.dataclass
class Result:
  paths: list = dataclasses.field(default_factory=list)   # Files written.
  notes: list = dataclasses.field(default_factory=list)   # One line each, for the terminal.
  writer: object = None  # With options.tensorboard.

  def wrote(self, path, note=""):
    self.paths.append(path)
    self.notes.append(f"Wrote {path}{note}")


def run(options):
  """Draws options.mode for the model; returns the Result. User errors raise ConfigError."""
  options_lib.check(options)
  if options.mp4:
    gif.check_mp4_writer()
  model = models.load(options.model_dir, options.saved_model, options.pretrained, options.step)
  storage.check_writable(_output_dir(options),
                         "choose another folder for the pictures with --output_dir=FOLDER")
  result = Result()
  if options.tensorboard:
    result.writer = tf.summary.create_file_writer(os.path.join(_output_dir(options), "tensorboard"))
  try:
    {"grid": grid, "interpolate": interpolate, "video": video, "timeline": timeline,
     "reconstruct": reconstruct}[options.mode](model, options, result)
  finally:
    if result.writer is not None:
      result.writer.close()
  return result


def _output_dir(options):
  if options.output_dir:
    return options.output_dir
  if options.saved_model:  # Beside the export.
    return os.path.join(os.path.dirname(os.path.abspath(options.saved_model.rstrip("/"))),
                        "generated")
  return os.path.join(options.model_dir, "generated")  # ./generated for --pretrained.


def _path(options, model, suffix, extension):
  name = f"{model.name}_step{model.step:07d}_{suffix}_seed{options.seed}.{extension}"
  return os.path.join(_output_dir(options), name)


def _write_picture(options, model, suffix, picture, result, tag=None):
  """Writes a uint8 [H, W, C] picture as a PNG (and to TensorBoard)."""
  path = _path(options, model, suffix, "png")
  summaries.write_png(path, picture[None])
  result.wrote(path, f" ({picture.shape[1]}x{picture.shape[0]})")
  _log_images(result, tag or options.mode, picture[None], model.step)
  return path


def _log_images(result, tag, pictures, step):
  if result.writer is not None:
    with result.writer.as_default():
      tf.summary.image(tag, pictures, step=step, max_outputs=len(pictures))


def _require_prior(model, mode):
  if model.generate is None:
    hint = ("use --mode=reconstruct or --mode=interpolate" if mode == "grid"
            else "use --source=images")
    raise config_lib.ConfigError(
        f"--mode={mode} samples latents from a prior, and {model.name!r} is an autoencoder "
        f"without one: it is not a generator; {hint}.")


def _source(model, options, default):
  source = options.source or default
  if source == "prior":
    _require_prior(model, options.mode)
  elif model.encode is None:
    raise config_lib.ConfigError(
        f"--mode={options.mode} with real images needs an autoencoder, and {model.name!r} is a "
        f"{model.kind} model without an encoder; use --source=prior.")
  return source


def _real_images(model, options, count):
  """(`count` images [count, H, W, C] in [-1, 1] by --indices or at random, their indices)."""
  examples = model.real_examples(options.split, options.data_dir).examples
  if options.indices:
    chosen = np.asarray(options.indices, np.int64)
    if len(chosen) != count:
      raise config_lib.ConfigError(
          f"--indices names {len(chosen)} examples; --mode={options.mode} here needs {count}.")
    if chosen.min() < 0 or chosen.max() >= len(examples):
      raise config_lib.ConfigError(
          f"--indices={','.join(map(str, options.indices))} names examples outside the "
          f"{len(examples)} of the {options.split} split.")
  else:
    if count > len(examples):
      raise config_lib.ConfigError(f"{count} images were asked for; the {options.split} split "
                                   f"holds {len(examples)}.")
    chosen = np.random.default_rng(options.seed).choice(len(examples), count, replace=False)
  return data.from_uint8(examples[chosen]).numpy(), chosen


def _given_latents(model, options):
  try:
    values = np.load(options.latents)
  except (OSError, ValueError) as e:
    raise config_lib.ConfigError(f"--latents={options.latents} is not a readable .npy file.") from e
  if values.ndim != 2 or values.shape[1] != model.latent_dim:
    raise config_lib.ConfigError(f"--latents={options.latents} holds an array of shape "
                                 f"{values.shape}; expected [K, {model.latent_dim}].")
  if not np.issubdtype(values.dtype, np.number):
    raise config_lib.ConfigError(f"--latents={options.latents} holds {values.dtype} values; "
                                 f"expected numbers.")
  rows = latents.nonfinite_rows(values)
  if rows:
    raise config_lib.ConfigError(
        f"--latents={options.latents} holds NaN or infinity in {len(rows)} of its "
        f"{len(values)} rows (the first is row {rows[0]}); latents must be finite numbers.")
  return values.astype(np.float32)


def _prior_endpoints(model, options, rows):
  """Endpoints (a [R, d], b [R, d]) from --latents (and --indices) or the prior."""
  if not options.latents:
    if options.indices:
      raise config_lib.ConfigError("--indices with --source=prior picks rows of a --latents "
                                   "file; give --latents too (grid writes one).")
    z = latents.gaussian(2 * rows, model.latent_dim, options.seed, options.truncation)
    return z[0::2], z[1::2]
  given = _given_latents(model, options)
  chosen = np.asarray(options.indices or range(len(given) - len(given) % 2), np.int64)
  if len(chosen) < 2 or len(chosen) % 2 or chosen.min() < 0 or chosen.max() >= len(given):
    raise config_lib.ConfigError(
        f"--latents={options.latents} holds {len(given)} latents; --indices must name pairs "
        "of them (by default rows 0,1 then 2,3 ...).")
  return given[chosen[0::2]], given[chosen[1::2]]


def _scatter_plotter(model, options):
  """A function drawing samples [N, 2] in blue over the real points in red: uint8 [256, 256, 3]."""
  reference = model.real_examples(options.split, options.data_dir).examples
  return lambda samples: layout.to_uint8(plots.point_cloud_image(samples, reference)[0].numpy())


def grid(model, options, result):
  """rows x columns samples, and their latents as .npy for --latents."""
  _require_prior(model, "grid")
  rows, columns = options_lib.shape(options)
  if model.kind == "points":
    z = latents.gaussian(options.num_points, model.latent_dim, options.seed, options.truncation)
    scatter = _scatter_plotter(model, options)
    _write_picture(options, model, "points", scatter(model.generate(z)), result)
    return
  z = latents.gaussian(rows * columns, model.latent_dim, options.seed, options.truncation)
  path = _write_picture(options, model, f"grid{rows}x{columns}",
                        layout.grid(model.generate(z), rows, columns), result)
  latents_path = path[:-len(".png")] + "_latents.npy"
  buffer = io.BytesIO()
  np.save(buffer, z)
  storage.write_atomically(latents_path, buffer.getvalue())
  result.wrote(latents_path, " (z of the cells, row by row: use with --latents)")


def interpolate(model, options, result):
  """One strip of --steps images per row; between codes, the real images at both ends."""
  if model.kind == "points":
    raise config_lib.ConfigError(f"--mode=interpolate draws images; {model.name!r} generates "
                                 "2-D points: use --mode=grid, video or timeline.")
  rows, _ = options_lib.shape(options)
  source = _source(model, options, "images" if model.encode is not None else "prior")
  if source == "prior":
    start, end = _prior_endpoints(model, options, rows)
    method, draw = options.interpolation or "slerp", model.generate
  else:
    if len(options.indices) % 2:
      raise config_lib.ConfigError(f"--indices={','.join(map(str, options.indices))} must name "
                                   "endpoints in pairs (an even count).")
    real, chosen = _real_images(model, options, len(options.indices) or 2 * rows)
    codes = model.encode(real)
    start, end = codes[0::2], codes[1::2]
    method, draw = options.interpolation or "linear", model.decode
  path = latents.interpolate(start, end, options.steps, method)
  images = draw(path.reshape(-1, path.shape[-1]))
  picture = images.reshape([len(start), options.steps, *images.shape[1:]])
  gaps = None
  if source == "images":
    picture = np.concatenate([real[0::2, None], picture, real[1::2, None]], axis=1)
    gaps = {1: 2 * layout.GAP, options.steps + 1: 2 * layout.GAP}
    result.notes.append(f"Endpoints: examples {chosen.tolist()} of the {options.split} split, "
                        "in pairs; the outer columns are the real images.")
  _write_picture(options, model, f"interpolate_{source}_{method}",
                 layout.table(picture, column_gaps=gaps), result)


def video(model, options, result):
  """A looping GIF of rows x columns cells walking through latent space."""
  rows, columns = options_lib.shape(options)
  cells = rows * columns
  # One second of smoothing, as in the Progressive GAN video, but at most an eighth of the loop.
  sigma = min(options.fps, options.frames / 8.0)
  if model.kind == "points":
    walk = latents.smooth_walk(options.frames, options.num_points, model.latent_dim,
                               options.seed, sigma)
    scatter = _scatter_plotter(model, options)
    frames = np.stack([scatter(model.generate(z)) for z in walk])
    source = "prior"
  else:
    source = _source(model, options, "prior" if model.generate is not None else "images")
    if source == "prior":
      walk = latents.smooth_walk(options.frames, cells, model.latent_dim, options.seed, sigma)
      images = model.generate(walk.reshape(-1, model.latent_dim))
    else:
      # About one second per real image.
      keypoints = int(np.clip(options.frames // options.fps, 2, options.frames))
      real, _ = _real_images(model, options, keypoints * cells)
      codes = model.encode(real).reshape([keypoints, cells, -1])
      walk = latents.keypoint_loop(codes, options.frames)
      images = model.decode(walk.reshape(options.frames * cells, -1))
    images = images.reshape([options.frames, cells, *images.shape[1:]])
    frames = np.stack([layout.grid(frame, rows, columns) for frame in images])
  path = _path(options, model, f"video_{source}", "gif")
  gif.write_gif(path, frames, options.fps)
  result.wrote(path, f" ({frames.shape[2]}x{frames.shape[1]}, {len(frames)} frames at "
                     f"{options.fps} fps)")
  if options.mp4:
    mp4_path = path[:-len(".gif")] + ".mp4"
    gif.write_mp4(mp4_path, frames, options.fps)
    result.wrote(mp4_path)
  shown = np.unique(np.linspace(0, len(frames) - 1, min(8, len(frames))).astype(int))
  _log_images(result, "video_frames", frames[shown], model.step)


def timeline(model, options, result):
  """One row per checkpoint, at most options.checkpoints spread evenly, first and last included."""
  if not options.model_dir:
    raise config_lib.ConfigError("--mode=timeline reads the checkpoints of one run: give "
                                 "--model_dir, not --saved_model or --pretrained.")
  paths = models.checkpoint_paths(options.model_dir)
  _, columns = options_lib.shape(options)
  rows, steps, first, z = [], [], "", None  # z stays None when real images are reconstructed.
  if model.kind == "points":
    z = latents.gaussian(options.num_points, model.latent_dim, options.seed, options.truncation)
  elif _source(model, options, "prior" if model.generate is not None else "images") == "prior":
    z = latents.gaussian(columns, model.latent_dim, options.seed, options.truncation)
  else:
    real, _ = _real_images(model, options, columns)
    rows.append(layout.grid(real, 1, columns))
    first = "row 0: the real images; then "
  draw = (_scatter_plotter(model, options) if model.kind == "points"
          else functools.partial(layout.grid, rows=1, columns=columns))
  for index in plots.chosen_steps(range(len(paths)), options.checkpoints):
    at_step = models.from_checkpoint(options.model_dir, paths[index])
    steps.append(at_step.step)
    rows.append(draw(at_step.generate(z) if z is not None else at_step.reconstruct(real)))
    _log_images(result, "timeline", rows[-1][None], at_step.step)
  picture = layout.side_by_side(rows) if model.kind == "points" else layout.stacked(rows)
  name = f"timeline_steps{steps[0]}-{steps[-1]}"
  _write_picture(options, model, name, picture, result, tag="timeline_all")
  order = "left to right" if model.kind == "points" else "top to bottom"
  result.notes.append(f"Rows {order}: {first}steps {', '.join(map(str, steps))}.")
  if len(paths) < 2:
    result.notes.append("The run keeps a single checkpoint; train with --checkpoint_every and "
                        "--keep_checkpoints for a longer timeline.")


def reconstruct(model, options, result):
  """Bands of inputs / reconstructions / |error| maps, and each image's errors as JSON."""
  if model.encode is None:
    raise config_lib.ConfigError(f"--mode=reconstruct needs an autoencoder; {model.name!r} is a "
                                 f"{model.kind} model.")
  rows, columns = options_lib.shape(options)
  count = len(options.indices) or rows * columns
  rows = -(-count // columns)
  real, chosen = _real_images(model, options, count)
  reconstructions = model.reconstruct(real)
  squared = np.square((reconstructions - real) / 2.0).reshape(count, -1).mean(axis=1)
  psnr = 10.0 * np.log10(1.0 / np.maximum(squared, 1e-10))
  triples = np.stack([real, reconstructions, layout.error_maps(real, reconstructions)])
  blank = -np.ones([3, rows * columns - count, *real.shape[1:]])  # Pads a short last band.
  cells = np.concatenate([triples, blank], axis=1).reshape([3, rows, columns, *real.shape[1:]])
  bands = [layout.table(cells[:, band]) for band in range(rows)]
  path = _write_picture(options, model, f"reconstruct{count}", layout.stacked(bands), result)
  json_path = path[:-len(".png")] + ".json"
  storage.write_atomically(json_path, json.dumps({
      "model": model.name, "step": model.step, "split": options.split,
      "layout": f"bands of three rows (inputs, reconstructions, |error| maps brightened "
                f"x{layout.ERROR_GAIN:g}), images left to right then band by band",
      "indices": chosen.tolist(), "mse": squared.tolist(), "psnr_db": psnr.tolist(),
      "mean_mse": float(squared.mean()), "mean_psnr_db": float(psnr.mean()),
      "error_scale": "pixel MSE on the [0, 1] scale; PSNR with peak 1"}, indent=2))
  result.wrote(json_path, f": mean MSE {squared.mean():.5f}, mean PSNR {psnr.mean():.2f} dB "
                         f"over {count} images")

"""Looks at a trained model: `python -m keras_gen.generate --mode=grid --model_dir=DIR`.

Modes (see keras_gen.generation.commands): grid, interpolate, video, timeline,
reconstruct. Works from a checkpoint folder (--model_dir), an export
(--saved_model) or the pretrained zoo (--pretrained); timeline needs the
checkpoints. Examples:

  python -m keras_gen.generate --mode=grid --pretrained=dcgan_fashion_mnist
  python -m keras_gen.generate --mode=grid --model_dir=runs/dcgan_fashion_mnist --seed=3
  python -m keras_gen.generate --mode=interpolate --saved_model=runs/vae_fashion_mnist/export
  python -m keras_gen.generate --mode=video --model_dir=runs/dcgan_fashion_mnist --frames=96
  python -m keras_gen.generate --mode=timeline --model_dir=runs/autoencoder_fashion_mnist
  python -m keras_gen.generate --mode=reconstruct --model_dir=runs/autoencoder_fashion_mnist
"""

import dataclasses

from absl import flags

from keras_gen import cli
from keras_gen.generation import options as options_lib

flags.DEFINE_enum("mode", "grid", options_lib.MODES, "What to draw.")
flags.DEFINE_string("model_dir", "", "A training run folder; its newest checkpoint is used.")
flags.DEFINE_integer("step", None, "With --model_dir: the checkpoint written at this training "
                     "step instead of the newest.")
flags.DEFINE_string("saved_model", "", "An export folder (EXPORT_DIR or EXPORT_DIR/<version>).")
flags.DEFINE_string("pretrained", "", "A model of the pretrained zoo (zoo/pretrained/NAME), by "
                    "name or folder.")
flags.DEFINE_string("output_dir", "", "Where files go (default: MODEL_DIR/generated, "
                    "`generated` beside the export, or ./generated for --pretrained).")
flags.DEFINE_integer("seed", 0, "Seed of the latents and of the real images chosen.")
flags.DEFINE_integer("rows", 0, "Rows (0: grid 8, interpolate 8, video 4, reconstruct 4).")
flags.DEFINE_integer("columns", 0, "Columns (0: grid 8, video 4, timeline 8, reconstruct 8).")
flags.DEFINE_integer("steps", 10, "interpolate: images per strip, both endpoints included.")
flags.DEFINE_float("truncation", 0.0, "Redraw prior latent components beyond this; 0: off.")
flags.DEFINE_enum("interpolation", "", ["", "slerp", "linear"],
                  "Path between endpoints (default: slerp for prior latents, linear for codes).")
flags.DEFINE_enum("source", "", ["", "prior", "images"],
                  "Start from latents of the prior or from real images through the encoder "
                  "(default: images for interpolate on autoencoders, else the prior if any).")
flags.DEFINE_string("latents", "", "interpolate: a .npy [K, latent_dim] of endpoints (grid "
                    "writes one); pairs are rows 0,1 then 2,3 ... or --indices.")
flags.DEFINE_list("indices", [], "Endpoint pairs (rows of --latents or examples of --split), "
                  "or the examples to reconstruct.")
flags.DEFINE_integer("frames", 120, "video: number of frames.")
flags.DEFINE_integer("fps", 24, "video: frames per second.")
flags.DEFINE_bool("mp4", False, "video: also write an MP4 (needs imageio with ffmpeg).")
flags.DEFINE_integer("checkpoints", 8, "timeline: at most this many checkpoints, one per row.")
flags.DEFINE_integer("num_points", 2500, "Samples per scatter plot of a 2-D points generator.")
flags.DEFINE_string("split", "test", "Dataset split of the real images: test or train.")
flags.DEFINE_string("data_dir", "", "Where dataset files are (default: the run's).")
flags.DEFINE_bool("tensorboard", False, "Also log the pictures under OUTPUT_DIR/tensorboard.")
FLAGS = flags.FLAGS


def main(argv):
  cli.start(argv)
  try:
    indices = tuple(int(index) for index in FLAGS.indices)
  except ValueError:
    cli.usage_error(f"--indices={','.join(FLAGS.indices)} must be whole numbers.")
  options = options_lib.Options(**dict({field.name: FLAGS[field.name].value for field in
                                        dataclasses.fields(options_lib.Options)}, indices=indices))
  cli.exit_on_user_error(options_lib.check, options)  # Before TensorFlow loads.
  cli.quiet_tensorflow()
  from keras_gen.generation import commands
  for note in cli.exit_on_user_error(commands.run, options).notes:
    print(note)


if __name__ == "__main__":
  cli.run(main, interrupted="Interrupted before every picture was written.")

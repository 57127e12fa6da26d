"""Pictures of trained models: sample grids, interpolations, latent-walk videos, timelines.

  commands  one function per `python -m keras_gen.generate --mode`
  models    a checkpoint or an export behind one numpy interface (LoadedModel)
  latents   prior samples, slerp / linear paths, smooth looping walks
  layout    tiling images into one picture
  gif       an animated GIF89a encoder (numpy and Python), MP4 through imageio if present
"""

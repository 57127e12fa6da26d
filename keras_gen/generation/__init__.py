"""Pictures of trained models (`python -m keras_gen.generate`): commands per --mode, models
behind one numpy interface, latents, layout and a GIF encoder."""

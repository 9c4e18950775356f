"""What the server and training share: errors, config loading, spectral transforms, phase
reconstruction, the inference model and its folder format, pitch helpers, resampling and
file helpers. Imports nothing from ``morphsynth.server`` or ``morphsynth.training``."""

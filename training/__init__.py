"""Data, spectral transforms, model, baselines, training loop and evaluation."""

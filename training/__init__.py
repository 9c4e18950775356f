"""Data, training and evaluation: SoundFont and NSynth datasets, baseline fits, the
training loop, checkpoints, metrics, the eval and its report.

Imports ``morphsynth.core``; the eval also drives the server's library and renderer
(``roundtrip``), as a user's ``library add`` would. Nothing in the server imports this.
"""

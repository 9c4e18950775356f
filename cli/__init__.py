"""morphsynth: a neural synthesizer server that morphs instrument timbres.

The distribution maps three folders into this namespace: ``cli/`` (this package:
the command line and config loading), ``server/`` (``morphsynth.server``, real time)
and ``training/`` (``morphsynth.training``, data, model and evaluation).
"""

__version__ = "0.1.0"

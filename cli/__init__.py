"""morphsynth: a neural synthesizer server that morphs instrument timbres.

The distribution maps four folders into this namespace: ``cli/`` (this package: the
command line, nothing else), ``core/`` (``morphsynth.core``: what the server and training
share), ``server/`` (``morphsynth.server``, real time) and ``training/``
(``morphsynth.training``: data, training and evaluation). docs/architecture.md draws them.
"""

__version__ = "0.1.0"

__all__ = ["Synth", "__version__"]


def __getattr__(name: str):
    # Lazily: `import morphsynth` (the command line's first line) must not load torch.
    if name == "Synth":
        from morphsynth.server.synth import Synth

        return Synth
    raise AttributeError(f"module 'morphsynth' has no attribute '{name}'")

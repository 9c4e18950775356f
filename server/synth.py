"""The synthesizer as a Python object, for notebooks and scripts: no server, no audio device.

::

    from morphsynth import Synth

    synth = Synth()                                    # the shipped model and its library
    flute_cello = synth.morph("flute", "cello", weights=(1.0, 0.5))
    audio = synth.render(flute_cello, pitch=60)        # float32 [n_samples] at synth.sample_rate
    synth.add("my_note.wav", "my_flute")               # checked first, then encoded
    audio = synth.render("my_flute", pitch=67, velocity=90, duration=6.0)
    synth.export("my_flute_sfz", "my_flute")           # an SFZ instrument for any sampler

``morphsynth render``, ``morphsynth export`` and ``morphsynth library add`` run through this class, so what a
notebook gets is what the command line writes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from morphsynth.core.errors import MorphsynthError


class Synth:
    """A model, its latent library and a renderer.

    model: a model folder (default ``$MORPHSYNTH_MODEL`` or the shipped ``models/default``);
    library: its library file (default ``<model>/library.safetensors``); sample_rate: of
    the audio :meth:`render` returns (one of ``Renderer``'s output rates); phase, n_iter:
    the phase reconstruction (``fast``, ``quality``, ``gl``, ``pghi``); device: torch
    device of the model.
    """

    def __init__(self, model: str | Path | None = None, library: str | Path | None = None, *,
                 sample_rate: int = 48000, phase: str = "fast", n_iter: int | None = None,
                 device: str = "cpu", cache_mb: int = 64):
        import torch

        from morphsynth.core.synth_model import default_model_dir, load_synth_model
        from morphsynth.server.library import LIBRARY_FILE, Library
        from morphsynth.server.renderer import OUT_RATES, Renderer

        if sample_rate not in OUT_RATES:
            raise MorphsynthError(f"sample rate {sample_rate}: must be one of {', '.join(map(str, OUT_RATES))}")
        if n_iter is not None and n_iter < 0:
            raise MorphsynthError(f"phase iterations {n_iter}: must be >= 0")
        model_dir = Path(model) if model else default_model_dir()
        self.library_path = Path(library) if library else model_dir / LIBRARY_FILE
        try:
            torch_device = torch.device(device)
        except RuntimeError:
            raise MorphsynthError(f"device {device}: not a torch device") from None
        model = load_synth_model(model_dir, device=torch_device)
        self.renderer = Renderer(model, Library.load(self.library_path, model), out_rate=sample_rate, phase=phase,
                                 n_iter=n_iter, cache_mb=cache_mb, prerender_all=False)
        self.sample_rate = int(sample_rate)

    # ------------------------------------------------------------------ what it plays

    @property
    def model(self):
        """The :class:`~morphsynth.core.synth_model.SynthModel`."""
        return self.renderer.model

    @property
    def library(self):
        """The :class:`~morphsynth.server.library.Library`."""
        return self.renderer.library

    @property
    def sources(self) -> list[str]:
        """The library's source names."""
        return list(self.library.names)

    def morph(self, *sources: str, weights: Sequence[float] | None = None, xy: tuple[float, float] | None = None,
              interp: str = "linear", knobs: Sequence[float] = (), ramp: Sequence = ()):
        """A :class:`~morphsynth.server.morph.Morph` of ``sources`` (names, or the start of
        one: ``"flute"`` is the first flute), checked against the library.

        weights: one per source (default equal); xy: a position in [0, 1]² with exactly four
        sources at the corners (0,0) (1,0) (0,1) (1,1), instead of weights; interp: ``linear``
        or ``slerp`` (two sources); knobs: offsets along the library's principal latent axes,
        in standard deviations; ramp: ``((t_seconds, weights), ...)`` for a morph over the note.
        """
        from morphsynth.server.morph import Morph, xy_weights

        if not sources:
            raise MorphsynthError("morph: give at least one source")
        if xy is not None:
            if weights is not None or len(sources) != 4:
                raise MorphsynthError("morph: xy needs exactly four sources (the corners) and no weights")
            x, y = (float(v) for v in xy)
            if not (0 <= x <= 1 and 0 <= y <= 1):
                raise MorphsynthError(f"morph: xy ({x}, {y}) must lie in [0, 1]")
            weights = xy_weights(x, y)
        ramp = tuple((float(t), tuple(float(w) for w in ws)) for t, ws in ramp)
        if weights is None:
            # Under a ramp the static weights are unused; any valid ones keep the morph well-formed.
            weights = ramp[0][1] if ramp and sum(ramp[0][1]) > 0 else (1.0,) * len(sources)
        weights = tuple(float(w) for w in weights)
        morph = Morph(tuple(sources), weights, interp, tuple(float(k) for k in knobs), ramp).validate()
        return self.renderer.check_morph(morph)

    def render(self, morph, pitch: int = 60, velocity: int = 100, duration: float | None = None) -> np.ndarray:
        """One note: ``[n_samples]`` float32 at :attr:`sample_rate` (4 s by default: 3 s held
        and a 1 s release; ``duration`` seconds otherwise, longer ones looped).

        morph: a Morph from :meth:`morph`, a source name, or a sequence of names (mixed equally).
        """
        from morphsynth.server.library import PITCH_MAX, PITCH_MIN

        if isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not PITCH_MIN <= pitch <= PITCH_MAX:
            raise MorphsynthError(f"pitch {pitch!r}: must be a MIDI key {PITCH_MIN}-{PITCH_MAX}")
        if isinstance(velocity, bool) or not isinstance(velocity, (int, np.integer)) or not 1 <= velocity <= 127:
            raise MorphsynthError(f"velocity {velocity!r}: must be 1-127")
        if duration is not None and not (math.isfinite(duration) and 0 < duration <= 600):
            raise MorphsynthError(f"duration {duration}: must be > 0 and <= 600 s")
        return self.renderer.render(self._as_morph(morph), int(pitch), int(velocity), duration)

    # ------------------------------------------------------------------ the library

    def add(self, path: str | Path, name: str, pitch: int | None = None) -> int:
        """Encode a note file of your own as source ``name``; returns its pitch (detected when
        not given). The file is checked first (:mod:`morphsynth.core.note_files`): a wrong one
        is refused with the reason and the library stays as it was."""
        return self.renderer.add_source(str(path), name, pitch)

    def save_library(self, path: str | Path | None = None) -> Path:
        """Write the library (with what :meth:`add` put in it) to ``path``, by default over the
        file it was loaded from."""
        path = Path(path) if path is not None else self.library_path
        self.library.save(path)
        return path

    # ------------------------------------------------------------------ samplers

    def export(self, out_dir: str | Path, morph=None, *, grid: tuple[Sequence[str], int] | None = None,
               name: str | None = None, format: str = "sfz", keys: Sequence[int] | None = None,
               velocities: Sequence[int] | None = None, sample_format: str = "24", knobs: Sequence[float] = (),
               progress=None) -> list[Path]:
        """An instrument for any sampler (:mod:`morphsynth.server.export`): ``morph`` (as
        :meth:`render` takes it), or with ``grid=(corners, n)`` every point of an ``n x n``
        XY grid over four corner sources, rendered at ``keys`` (default every third key of
        the 88) and ``velocities`` (default the library's) into ``out_dir`` as ``sfz``,
        ``sf2`` (through Polyphone) or ``wav``. Returns the instrument files written;
        ``progress(done, total)`` is called as notes render."""
        from morphsynth.server import export

        if (morph is None) == (grid is None):
            raise MorphsynthError("export: give a morph or grid=(corners, n), not both")
        stem = name or Path(out_dir).resolve().name
        if grid is not None:
            corners, n = grid
            voicings = export.grid(stem, tuple(corners), int(n), tuple(float(k) for k in knobs))
        else:
            voicings = export.single(stem, self._as_morph(morph))
        keys = export.key_range(export.PITCH_MIN, export.PITCH_MAX, 3) if keys is None else keys
        return export.export_instruments(self.renderer, voicings, out_dir, format, keys, velocities,
                                         sample_format, progress)

    def _as_morph(self, morph):
        from morphsynth.server.morph import Morph

        if isinstance(morph, str):
            return self.morph(morph)
        if not isinstance(morph, Morph):
            return self.morph(*morph)
        return self.renderer.check_morph(morph.validate())

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        self.renderer.close()

    def __enter__(self) -> "Synth":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

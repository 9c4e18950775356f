"""Real note sources for the server tests, and checks that they are what they claim.

* :func:`fluid_rendered_note`: a FluidSynth note at 48 kHz as a RenderedNote with
  loop points from the renderer's own ``find_loop``; :func:`sine_note`: a sine as a
  RenderedNote whose loop wraps seamlessly.
* :class:`SoundFontNotes`: serves FluidSynth notes through the Renderer contract
  (lookup / request / render / set_morph / stats), so OSC -> engine -> audio can be
  checked for pitch with notes whose pitch is known.
* :func:`library_for`: the latent library of a model folder (``tiny_model_dir``, the
  trained tiny model) built from the tiny dataset, for end-to-end tests through the
  real renderer; :func:`neural_parts`: an untrained small CAE (:func:`small_cae`) and
  its library, where a model that learned nothing will do.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

SR = 48000


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


def peak_hz(audio: np.ndarray, sample_rate: int = SR) -> float:
    """Frequency of the strongest spectral peak (Hann window, parabolic interpolation)."""
    x = np.asarray(audio, np.float64)
    x = (x - x.mean()) * np.hanning(len(x))
    n = 1 << int(math.ceil(math.log2(len(x) * 4)))
    mag = np.abs(np.fft.rfft(x, n))
    mag[: int(30 * n / sample_rate)] = 0
    k = int(np.argmax(mag))
    a, b, c = np.log(mag[k - 1:k + 2] + 1e-12)
    offset = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return (k + offset) * sample_rate / n


def autocorr_hz(audio: np.ndarray, sample_rate: int = SR, fmin: float = 50.0, fmax: float = 2000.0) -> float:
    """Fundamental by autocorrelation (robust to a strong upper partial)."""
    x = np.asarray(audio, np.float64)
    x = x - x.mean()
    n = 1 << int(math.ceil(math.log2(2 * len(x))))
    spec = np.fft.rfft(x, n)
    ac = np.fft.irfft(spec * np.conj(spec))[: len(x)]
    lo, hi = int(sample_rate / fmax), int(sample_rate / fmin)
    lag = lo + int(np.argmax(ac[lo:hi]))
    # Prefer the shortest lag whose peak is nearly as high (avoids octave-down errors).
    for cand in range(lo, lag):
        if ac[cand] > 0.9 * ac[lag] and ac[cand] >= ac[cand - 1] and ac[cand] >= ac[cand + 1]:
            lag = cand
            break
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    offset = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return sample_rate / (lag + offset)


def fluid_rendered_note(program: int, pitch: int, velocity: int = 100, synth=None):
    """A FluidSynth note (3 s hold + 1 s release at 48 kHz) as a RenderedNote."""
    from morphsynth.server.renderer import RenderedNote, find_loop
    from morphsynth.training.soundfont import FLUID_R3, SoundFontSynth

    own = synth is None
    synth = synth or SoundFontSynth(FLUID_R3, sample_rate=SR)
    try:
        audio = synth.render(program, pitch, velocity)
    finally:
        if own:
            synth.close()
    hold_end = 3 * SR
    start, end = find_loop(audio, SR, midi_to_hz(pitch), hold_end)
    return RenderedNote(audio.astype(np.float32), SR, hold_end, start, end, pitch, velocity)


def sine_note(hz: float = 440.0, seconds: float = 4.0, amp: float = 0.5):
    """A sine as a RenderedNote at 48 kHz: hold to 3 s, a loop from 1 s over a whole number
    of periods (about 0.5 s) so the wrap is seamless."""
    from morphsynth.server.renderer import RenderedNote

    n = int(seconds * SR)
    t = np.arange(n) / SR
    period = SR / hz
    ls = SR
    le = ls + int(round(round(0.5 * SR / period) * period))
    return RenderedNote((amp * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, 3 * SR, ls, le)


class SoundFontNotes:
    """The Renderer contract served by FluidSynth notes of one GM program (real buffers)."""

    def __init__(self, program: int = 19, names=("organ", "flute", "strings", "brass")):
        from morphsynth.training.soundfont import FLUID_R3, SoundFontSynth

        self.program = program
        self.out_rate = SR
        self.library = SimpleNamespace(names=list(names), starting_sources=lambda n=4: list(names)[:n])
        self.model = SimpleNamespace(name=f"fluidr3-program{program}")
        self._synth = SoundFontSynth(FLUID_R3, sample_rate=SR)
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, int], object] = {}
        self.hits = self.misses = 0
        self._morph = None
        self.requests: list[tuple[int, int]] = []

    def set_morph(self, morph, follow=(), on_follow=None) -> None:
        # FluidSynth notes do not change with the morph: nothing sounding needs a new render.
        self._morph = morph

    @property
    def morph(self):
        return self._morph

    def note(self, pitch: int, velocity: int):
        with self._lock:
            key = (pitch, velocity)
            if key not in self._cache:
                self._cache[key] = fluid_rendered_note(self.program, pitch, velocity, self._synth)
            return self._cache[key]

    def lookup(self, pitch: int, velocity: int):
        note = self._cache.get((pitch, velocity))
        if note is None:
            self.misses += 1
        else:
            self.hits += 1
        return note

    def request(self, pitch: int, velocity: int, on_ready) -> None:
        self.requests.append((pitch, velocity))
        threading.Thread(target=lambda: on_ready(self.note(pitch, velocity)), daemon=True).start()

    def render(self, morph, pitch: int, velocity: int, duration_s=None) -> np.ndarray:
        return self.note(pitch, velocity).audio.copy()

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "queue_length": 0, "cache_bytes": 0}

    def close(self) -> None:
        self._synth.close()


def small_cae(seed: int = 0):
    """An untrained small CAE network (latent 8, width 8), its weights drawn after
    ``torch.manual_seed(seed)``."""
    import torch

    from morphsynth.core.model import CaeConfig
    from morphsynth.core.synth_model import build_network

    torch.manual_seed(seed)
    return build_network("cae", CaeConfig(latent_dim=8, width=8, max_channels=32, cond_dim=32))


def small_cae_dir(path: Path, seed: int = 0, name: str = "small") -> Path:
    """:func:`small_cae` saved as a model folder at ``path`` (encoding needs no training)."""
    from morphsynth.core.synth_model import save_synth_model

    save_synth_model(small_cae(seed), path, name=name)
    return path


def neural_parts(root: Path, dataset: Path) -> tuple[Path, Path]:
    """A small untrained CAE model folder and its library built from ``dataset``."""
    from morphsynth.main import main

    model_dir = root / "model"
    library = model_dir / "library.safetensors"
    if library.is_file():
        return model_dir, library
    small_cae_dir(model_dir, seed=0, name="serve-test")
    assert main(["library", "build", "--model", str(model_dir), "--data", str(dataset),
                 "--out", str(library)]) == 0
    return model_dir, library


def library_for(model_dir: Path, dataset: Path, out: Path) -> Path:
    """Build (once) the latent library of ``model_dir`` from ``dataset`` at ``out``."""
    from morphsynth.main import main

    if not out.is_file():
        assert main(["library", "build", "--model", str(model_dir), "--data", str(dataset),
                     "--out", str(out)]) == 0
    return out


def neural_renderer(model_dir: Path, library: Path, model_wrapper=None):
    """The real Renderer over the small model, without background pre-rendering of all keys;
    ``model_wrapper(model)``, if given, renders in the model's place (the library is checked
    against the model itself)."""
    from morphsynth.server.library import Library
    from morphsynth.server.renderer import Renderer
    from morphsynth.core.synth_model import load_synth_model

    model = load_synth_model(model_dir)
    renderer_model = model_wrapper(model) if model_wrapper else model
    return Renderer(renderer_model, Library.load(library, model), out_rate=SR, prerender_all=False)


# ---------------------------------------------------------------------- the helpers' own checks

def test_fluid_rendered_note_has_its_pitch_and_a_loop_inside_the_hold():
    note = fluid_rendered_note(19, 57)
    assert abs(autocorr_hz(note.audio[SR // 2: SR]) - midi_to_hz(57)) < 0.02 * midi_to_hz(57)
    assert 0 < note.loop_start < note.loop_end <= note.hold_end == 3 * SR


def test_peak_hz_matches_a_sine():
    t = np.arange(SR // 4) / SR
    assert abs(peak_hz(np.sin(2 * np.pi * 523.25 * t)) - 523.25) < 0.5

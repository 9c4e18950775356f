"""Morph → latents → decoded magnitude → phase → resampled note, cached.

:class:`Renderer` is what the server and the command line use. Rendering is batched:
every latent of a batch of notes (one per note, or one per ramp breakpoint) goes
through the decoder together, the phase method runs on the whole batch, and soxr
resamples the batch at once. The render cache and its worker live in
:mod:`morphsynth.server.cache`; this module decides what to render and how.

Velocity: the model is conditioned on the library's velocities; a key's velocity is
snapped to the nearest of them (so all velocities near one trained value share one
cached note). The rendered note is at that velocity's level; the engine applies its
own velocity gain.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.server.cache import RenderCache, RenderQueue
from morphsynth.server.levels import velocity_to_level
from morphsynth.core.note_files import load_note
from morphsynth.server.library import PITCH_MAX, PITCH_MIN, Library, check_model
from morphsynth.server.morph import Morph, mix_latents, normalise_weights, ramp_frame_blend
from morphsynth.core.resample import resample

HOLD_S = 3.0  # note-off time of the model's 4 s notes (3 s hold + 1 s release)
OUT_RATES = (16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
# Loops shorter than this buzz audibly at the repetition rate; longer ones reach into the attack.
LOOP_TARGET_S = 0.4
# Frames this close to note-off already carry the release (STFT window half-width plus margin).
LOOP_GUARD_S = 0.08
FADE_S = 0.25
MAX_LOOP_GAIN = 4.0  # the most the level of a loop's end is corrected (12 dB)
LEVEL_WINDOW_S = 0.02  # shortest window measuring a loop's level at each end (two periods when longer)
SEAM_S = 0.003  # shortest blend around a loop seam (one period when that is longer)
RECENT_KEYS = 128
OWN_MORPHS = 256  # voices' own morphs kept for their renders (one waits per voice at most)


@dataclass
class RenderedNote:
    """A whole note at ``sample_rate``: ``audio [n_samples]`` float32 mono.

    hold_end: sample of the note-off (3 s). loop_start/loop_end: a steady segment inside
    the hold whose end joins its start seamlessly (play ``audio[loop_start:loop_end]``
    repeatedly to hold the key past ``loop_end``).
    """

    audio: np.ndarray
    sample_rate: int
    hold_end: int
    loop_start: int
    loop_end: int
    pitch: int = 0
    velocity: int = 0

    @property
    def nbytes(self) -> int:
        return int(self.audio.nbytes)


# --------------------------------------------------------------------------- DSP
def find_loop(audio: np.ndarray, sample_rate: int, f0_hz: float, hold_end: int,
              target_s: float = LOOP_TARGET_S, guard_s: float = LOOP_GUARD_S) -> tuple[int, int]:
    """(loop_start, loop_end) of a seamless loop near the end of the hold.

    audio: ``[n_samples]``. The loop ends ``guard_s`` before ``hold_end``; its length starts
    as the multiple of the pitch period nearest ``target_s`` and its start is then moved
    within ± one period to where the waveform around it best matches (normalised
    cross-correlation) the waveform around the end, so the jump back is seamless.
    """
    x = np.asarray(audio, dtype=np.float64)
    period = sample_rate / max(float(f0_hz), 1.0)
    end = int(hold_end - guard_s * sample_rate)
    n_periods = max(1, round(target_s * sample_rate / period))
    length = int(round(n_periods * period))
    # The whole search must stay inside the hold's steady part, past the attack.
    length = min(length, max(int(period), end // 2))
    half = max(int(math.ceil(period)), int(0.004 * sample_rate))
    w = min(max(int(round(2 * period)), int(0.01 * sample_rate)), end // 4)
    lo = max(w, end - length - half)
    hi = min(end - max(int(period) // 2, 1), end - length + half)
    if end <= 2 * w or hi <= lo or not np.any(x[lo - w:end + w]):
        start = max(0, end - length)
        return start, end
    ref = x[end - w:end + w]
    ref = ref - ref.mean()
    seg = x[lo - w:hi + w]
    n, m = 2 * w, hi - lo + 1  # window length, number of candidate starts
    # Sliding dot products by FFT and window energies by cumulative sums: O(N log N) even for
    # the long periods of the lowest keys, where a direct search costs seconds.
    size = 1 << int(np.ceil(np.log2(seg.size + n)))
    dots = np.fft.irfft(np.fft.rfft(seg, size) * np.conj(np.fft.rfft(ref, size)), size)[:m]
    c1 = np.concatenate([[0.0], np.cumsum(seg)])
    c2 = np.concatenate([[0.0], np.cumsum(seg * seg)])
    sums = c1[n:n + m] - c1[:m]
    energy = np.maximum(c2[n:n + m] - c2[:m] - sums * sums / n, 0.0)
    ncc = dots / (np.sqrt(energy) * (np.linalg.norm(ref) + 1e-12) + 1e-12)
    start = lo + int(np.argmax(ncc))
    return start, end


def level_loop(audio: np.ndarray, loop_start: int, loop_end: int, window: int,
               max_ratio: float = MAX_LOOP_GAIN) -> np.ndarray:
    """Even out the level across the loop, in place, so repeats do not pump.

    audio: ``[n_samples]``. A decaying note is quieter at ``loop_end`` than at
    ``loop_start``; each wrap would jump back up. An exponential gain ramp over the loop
    (1 at the start, ``rms_start / rms_end`` at the end, ``window`` samples measured
    inside the loop at each end, clamped to ``1/max_ratio .. max_ratio``) brings the end
    to the start's level, and the rest of the note (hold tail and release) keeps the
    final gain, so the exit into the release stays continuous. Returns ``audio``.
    """
    window = min(window, (loop_end - loop_start) // 2)
    if window < 2:
        return audio
    rms_start = float(np.sqrt(np.mean(np.square(audio[loop_start:loop_start + window], dtype=np.float64))))
    rms_end = float(np.sqrt(np.mean(np.square(audio[loop_end - window:loop_end], dtype=np.float64))))
    if rms_start <= 0 or rms_end <= 0:
        return audio
    log_gain = math.log(min(max(rms_start / rms_end, 1 / max_ratio), max_ratio))
    # Gain 1 at the start window's centre, the full correction from the end window's centre on.
    t = np.arange(loop_end - loop_start, dtype=np.float64)
    frac = np.clip((t - window / 2) / (loop_end - loop_start - window), 0.0, 1.0)
    audio[loop_start:loop_end] *= np.exp(log_gain * frac).astype(audio.dtype)
    audio[loop_end:] *= np.float32(math.exp(log_gain))
    return audio


def smooth_loop_seam(audio: np.ndarray, loop_start: int, loop_end: int, width: int) -> np.ndarray:
    """Make the jump from ``loop_end`` back to ``loop_start`` continuous, in place.

    audio: ``[n_samples]``. Decoded notes are never exactly periodic, so even the best
    loop start leaves a small step. Around both seams (``width`` samples either side)
    the waveform is blended towards the average of the two neighbourhoods, with a
    raised-cosine weight that is 1 at the seam and 0 at the edges: at the seam both
    sides then hold the same signal, so the wrap, the first pass into the loop and the
    exit to the release are all continuous. Returns ``audio``.
    """
    width = min(width, loop_start, audio.size - loop_end, (loop_end - loop_start) // 2)
    if width < 2:
        return audio
    a = audio[loop_start - width:loop_start + width].astype(np.float64)
    b = audio[loop_end - width:loop_end + width].astype(np.float64)
    mean = 0.5 * (a + b)
    r = 0.5 + 0.5 * np.cos(np.pi * np.abs(np.arange(2 * width) - width) / width)  # 0 → 1 at the seam → 0
    audio[loop_start - width:loop_start + width] = (1 - r) * a + r * mean
    audio[loop_end - width:loop_end + width] = (1 - r) * b + r * mean
    return audio


def loop_seam_correlation(audio: np.ndarray, loop_start: int, loop_end: int, width: int) -> float:
    """Normalised correlation of ``width`` samples either side of the loop's start and end (1 = seamless)."""
    a = np.asarray(audio[loop_start - width:loop_start + width], dtype=np.float64)
    b = np.asarray(audio[loop_end - width:loop_end + width], dtype=np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def fit_duration(note: RenderedNote, duration_s: float) -> np.ndarray:
    """The note as ``duration_s`` seconds of audio ``[round(duration_s * rate)]``.

    Longer than the render: the loop repeats inside the hold, and the release follows
    (zeros pad the sub-loop remainder at the very end). Shorter: the note is cut and a
    raised-cosine fade of up to ``FADE_S`` ends it.
    """
    n = int(round(duration_s * note.sample_rate))
    audio = note.audio
    if n <= 0:
        raise MorphsynthError(f"duration: must be > 0 s, got {duration_s}")
    if n <= audio.size:
        out = audio[:n].copy()
        fade = min(int(FADE_S * note.sample_rate), n // 2)
        if fade > 0 and n < audio.size:
            out[n - fade:] *= (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade))).astype(np.float32)
        return out
    loop = audio[note.loop_start:note.loop_end]
    repeats = (n - audio.size) // max(loop.size, 1)
    out = np.concatenate([audio[:note.loop_end], np.tile(loop, repeats), audio[note.loop_end:]])
    return np.pad(out, (0, n - out.size)).astype(np.float32, copy=False)


# Short names users type for the phase module's methods.
PHASE_ALIASES = {"gl": "griffinlim"}


def check_phase(method: str) -> str:
    """``method`` if the phase module knows it (or an alias of it), else a one-line error."""
    from morphsynth.core.phase import METHODS, MODES

    known = list(MODES) + list(METHODS) + list(PHASE_ALIASES)
    if PHASE_ALIASES.get(method, method) not in list(MODES) + list(METHODS):
        raise MorphsynthError(f"phase: unknown method '{method}' (choose from {', '.join(known)})")
    return method


def reconstruct_phase(mag: torch.Tensor, method: str, n_iter: int | None, n_fft: int, hop: int) -> torch.Tensor:
    """mag ``[batch, n_bins, n_frames]`` → audio ``[batch, (n_frames-1)*hop]`` by the named method."""
    from morphsynth.core.phase import reconstruct

    return reconstruct(mag, method=PHASE_ALIASES.get(method, method), n_iter=n_iter, n_fft=n_fft, hop=hop)


def check_key(pitch, velocity) -> tuple[int, int]:
    if isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not PITCH_MIN <= pitch <= PITCH_MAX:
        raise MorphsynthError(f"pitch: must be a MIDI key {PITCH_MIN}-{PITCH_MAX}, got {pitch!r}")
    if isinstance(velocity, bool) or not isinstance(velocity, (int, np.integer)) or not 1 <= velocity <= 127:
        raise MorphsynthError(f"velocity: must be 1-127, got {velocity!r}")
    return int(pitch), int(velocity)


# ---------------------------------------------------------------------- renderer
class Renderer:
    """Renders morphs of ``library`` sources with ``model`` at ``out_rate``, with a cache.

    phase / n_iter: the phase method (``morphsynth.core.phase`` names) and its
    iterations (None: the method's default). cache_mb: memory bound of the note cache.
    batch_size: notes per decode/phase batch in background pre-renders (default 8 on the
    CPU, 88 on a GPU). prerender_all:
    after the recently played keys, also pre-render the other keys (at the most recent
    velocity) when the morph changes. max_queue: the most jobs that wait.
    """

    def __init__(self, model, library: Library, out_rate: int = 48000, phase: str = "fast",
                 cache_mb: float = 256, n_iter: int | None = None, batch_size: int | None = None,
                 prerender_all: bool = True, max_queue: int = 256,
                 on_error: Callable[[BaseException], None] | None = None):
        check_model(library, model, "renderer")
        if int(out_rate) not in OUT_RATES:
            raise MorphsynthError(f"rate: must be one of {', '.join(map(str, OUT_RATES))} Hz, got {out_rate}")
        self.phase = check_phase(phase)
        self.model = model
        self.library = library
        self.out_rate = int(out_rate)
        self.n_iter = n_iter
        self.prerender_all = prerender_all
        self.hold_end = int(round(HOLD_S * self.out_rate))
        self._lock = threading.Lock()
        # Held while latents are read and while a source is added, so a render never sees
        # the library half-updated; the version keeps notes of a replaced source out of the cache keys.
        self._library_lock = threading.Lock()
        self._library_version = 0
        # Held by every batch and by swap(): a batch renders with one model and library.
        self._parts_lock = threading.RLock()
        self._swap_version = 0   # keys of an older library version were queued before a swap
        self._morph: Morph | None = None
        self._mkey: tuple = ()
        self._generation = 0
        self._morphs: OrderedDict[tuple, Morph] = OrderedDict()
        # Voices' own morphs (request_note) waiting to render, apart from the live ones so
        # that a sliding voice never pushes the current morph out before its pre-renders run.
        self._own_morphs: OrderedDict[tuple, Morph] = OrderedDict()
        self._recent: OrderedDict[tuple[int, int], None] = OrderedDict()
        self.hits = 0
        self.misses = 0
        if batch_size is None:
            # Measured (benchmarks/bench_render.py): 8 is the fastest per note on 2 CPU cores;
            # a GPU renders all 88 keys fastest in one batch.
            batch_size = 8 if torch.device(model.device).type == "cpu" else 88
        self.cache = RenderCache(int(cache_mb * 1024 * 1024))
        self.queue = RenderQueue(self.cache, self._render_keys, self._is_current, batch_size=batch_size,
                                 max_length=max_queue, on_error=on_error)
        self._base_key = (model.model_hash, self.out_rate, phase, n_iter, library.mode)

    @property
    def note_samples(self) -> int:
        """Samples of a live note at ``out_rate`` (the model's 4 s)."""
        stft = self.model.stft
        return int(math.ceil(stft.n_samples(self.model.n_frames) * self.out_rate / stft.sample_rate))

    # ---------------------------------------------------------------- morph state
    @property
    def morph(self) -> Morph | None:
        return self._morph

    def check_morph(self, morph: Morph, library: Library | None = None) -> Morph:
        """Validate ``morph`` against the library (or ``library``); returns it with source names resolved."""
        morph.validate()
        library = library or self.library
        names = tuple(library.resolve(s) for s in morph.sources)
        library.knob_offset(morph.knobs)  # raises on too many knobs
        return Morph(names, morph.weights, morph.interp, morph.knobs, morph.ramp)

    def set_morph(self, morph: Morph, follow=(), on_follow: Callable[[RenderedNote], None] | None = None) -> None:
        """Swap the current morph; pre-renders the recently played keys, most recent first.

        follow: ``(pitch, velocity)`` keys of notes still sounding; each is rendered for the
        new morph ahead of the pre-renders and handed to ``on_follow(note)`` (at once from
        the cache, else on the worker), unless the morph moves on first.
        """
        morph = self.check_morph(morph)
        mkey = morph.cache_key()
        with self._lock:
            self._morph, self._mkey = morph, mkey
            self._generation += 1
            gen = self._generation
            self._remember(mkey, morph)
            recent = list(reversed(self._recent))
        keys = [self._key(mkey, p, v) for p, v in recent]
        follows, ready = [], []
        if on_follow is not None:
            for pitch, velocity in follow:
                key = self._key(mkey, *check_key(pitch, velocity))
                note = self.cache.get(key)
                if note is None:
                    follows.append((key, on_follow))
                else:
                    ready.append(note)
        if self.prerender_all:
            vel = recent[0][1] if recent else 100
            played = {p for p, _ in recent}
            # Outward from the most recent key: nearby keys are the likeliest next notes.
            centre = recent[0][0] if recent else 60
            others = sorted((p for p in range(PITCH_MIN, PITCH_MAX + 1) if p not in played),
                            key=lambda p: (abs(p - centre), p))
            keys += [self._key(mkey, p, vel) for p in others]
        self.queue.prerender(keys, gen, follows)
        for note in ready:
            on_follow(note)

    def _remember(self, mkey: tuple, morph: Morph) -> None:
        self._morphs[mkey] = morph
        self._morphs.move_to_end(mkey)
        while len(self._morphs) > 16:
            self._morphs.popitem(last=False)

    def _is_current(self, generation: int) -> bool:
        return generation == self._generation

    def _key(self, mkey: tuple, pitch: int, velocity: int) -> tuple:
        return (self._base_key, self._library_version, mkey, int(pitch),
                self.library.nearest_velocity(int(velocity)))

    # -------------------------------------------------------------- note-on path
    def lookup(self, pitch: int, velocity: int) -> RenderedNote | None:
        """The cached note of the current morph, or None; never renders."""
        with self._lock:
            morph, mkey = self._morph, self._mkey
        if morph is None:
            raise MorphsynthError("renderer: no morph set (call set_morph first)")
        pitch, velocity = check_key(pitch, velocity)
        with self._lock:
            self._recent[(pitch, velocity)] = None
            self._recent.move_to_end((pitch, velocity))
            while len(self._recent) > RECENT_KEYS:
                self._recent.popitem(last=False)
        note = self.cache.get(self._key(mkey, pitch, velocity))
        if note is None:
            self.misses += 1
        else:
            self.hits += 1
        return note

    def request(self, pitch: int, velocity: int, on_ready: Callable[[RenderedNote], None]) -> None:
        """Render the current morph's note at top priority on the worker, then ``on_ready(note)`` there."""
        with self._lock:
            morph, mkey, gen = self._morph, self._mkey, self._generation
        if morph is None:
            raise MorphsynthError("renderer: no morph set (call set_morph first)")
        pitch, velocity = check_key(pitch, velocity)
        self.queue.submit(self._key(mkey, pitch, velocity), gen, on_ready)

    def request_note(self, morph: Morph, pitch: int, velocity: int, on_ready: Callable[[RenderedNote], None]) -> None:
        """Render ``morph`` (any morph: one voice's own) for a key at top priority on the
        worker, then ``on_ready(note)`` there; from the cache at once when it has the note.
        The render is not cached: a voice's morph moves on."""
        pitch, velocity = check_key(pitch, velocity)
        morph = self.check_morph(morph)
        mkey = morph.cache_key()
        key = self._key(mkey, pitch, velocity)
        note = self.cache.get(key)
        if note is not None:
            on_ready(note)
            return
        with self._lock:
            self._own_morphs[mkey] = morph
            self._own_morphs.move_to_end(mkey)
            while len(self._own_morphs) > OWN_MORPHS:
                self._own_morphs.popitem(last=False)
            gen = self._generation
        self.queue.submit(key, gen, on_ready, keep=False)

    # ------------------------------------------------------------ synchronous
    def render(self, morph: Morph, pitch: int, velocity: int, duration_s: float | None = None) -> np.ndarray:
        """One note, float32 mono at ``out_rate``; ``duration_s`` None keeps the model's 4 s.

        The note is scaled from the library velocity it was rendered at to ``velocity``
        by the same curve the engine uses for live notes.
        """
        note = self.render_note(morph, pitch, velocity)
        level = np.float32(velocity_to_level(velocity, note.velocity))
        if duration_s is None:
            return note.audio * level
        if not (isinstance(duration_s, (int, float)) and math.isfinite(duration_s) and duration_s > 0):
            raise MorphsynthError(f"duration: must be a positive number of seconds, got {duration_s!r}")
        return fit_duration(note, float(duration_s)) * level

    def render_note(self, morph: Morph, pitch: int, velocity: int) -> RenderedNote:
        """A :class:`RenderedNote` of any morph (through the cache)."""
        pitch, velocity = check_key(pitch, velocity)
        morph = self.check_morph(morph)
        mkey = morph.cache_key()
        key = self._key(mkey, pitch, velocity)
        note = self.cache.get(key)
        if note is None:
            note = self.render_batch([(morph, pitch, velocity)])[0]
            self.cache.put(key, note)
        return note

    def add_source(self, audio_path: str, name: str, pitch: int | None = None) -> int:
        """Encode a user's note file into the library as source ``name`` (checked first:
        :mod:`morphsynth.core.note_files`); returns the pitch it was added at."""
        audio, pitch = load_note(audio_path, self.model.stft.sample_rate, pitch)
        with self._library_lock:
            pitch = self.library.add_note(self.model, audio, name, pitch)
            self._library_version += 1
        return pitch

    # ------------------------------------------------------------ hot swap
    def swap(self, model, library: Library, morph: Morph) -> None:
        """Render with ``model`` and ``library`` from now on, at ``morph``; nothing changes on error.

        ``library`` must be ``model``'s and hold ``morph``'s sources; it takes the served
        library's lookup mode. A batch being rendered finishes with the old pair first. The
        cache is emptied, and the new keys (model hash, library version) never meet a note
        of the old pair; notes requested before the swap and not yet rendered come from the
        new pair (their own morph where the new library has its sources, else ``morph``).
        Queued pre-renders of the old pair are dropped and the recently played keys
        pre-rendered again. Voices already playing keep their rendered audio.
        """
        check_model(library, model, "swap")
        library.mode = self.library.mode
        morph = self.check_morph(morph, library)
        with self._parts_lock, self._library_lock:
            with self._lock:
                self.model, self.library = model, library
                self._base_key = (model.model_hash, self.out_rate, self.phase, self.n_iter, library.mode)
                self._library_version += 1
                self._swap_version = self._library_version
                self._morph, self._mkey = morph, morph.cache_key()
                self._generation += 1
                self._remember(self._mkey, morph)
            self.cache.clear()
        self.set_morph(morph)

    def _morph_after_swap(self, morph: Morph | None) -> Morph | None:
        """What a note queued before a swap renders: its morph if the new library has its
        sources, else the current morph."""
        if morph is None:
            return self._morph
        try:
            return self.check_morph(morph)
        except MorphsynthError:
            return self._morph

    def stats(self) -> dict:
        return {"hits": self.hits, "misses": self.misses, "queue_length": len(self.queue),
                "cache_bytes": self.cache.nbytes}

    def close(self) -> None:
        self.queue.close()

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- batches
    def _render_keys(self, keys: list[tuple], generation: int) -> list[RenderedNote | None]:
        # Under the lock a swap takes: the keys' morphs are chosen for the library they render with.
        with self._parts_lock:
            return self._render_keys_now(keys)

    def _render_keys_now(self, keys: list[tuple]) -> list[RenderedNote | None]:
        items = []
        for _, version, mkey, pitch, velocity in keys:
            morph = self._morphs.get(mkey)
            if morph is None:
                morph = self._own_morphs.get(mkey)
            if version < self._swap_version:
                morph = self._morph_after_swap(morph)
            if morph is None:
                return [None] * len(keys)
            items.append((morph, pitch, velocity))
        return self.render_batch(items)

    def latents(self, morph: Morph, pitch: int, velocity: int) -> torch.Tensor:
        """The morph's latents for a key: ``[1, latent_dim]`` static, ``[n_breakpoints, latent_dim]`` ramped."""
        return self.latents_and_gains(morph, pitch, velocity)[0]

    def latents_and_gains(self, morph: Morph, pitch: int, velocity: int) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`latents` and the level correction of each, ``[n_points]`` dB: the sources'
        gains (see the library's level notes) mixed by the same weights."""
        lib = self.library
        with self._library_lock:
            src, gains = lib.sources_for(morph.sources, pitch, velocity)  # [n_sources, latent_dim], [n_sources]
            offset = lib.knob_offset(morph.knobs)
        points = [w for _, w in morph.ramp] if morph.ramp else [morph.weights]
        z = torch.stack([mix_latents(src, w, morph.interp, lib.pca_mean) + offset for w in points])
        g = torch.stack([(torch.tensor(normalise_weights(w)) * gains).sum() for w in points])
        return z, g

    def render_magnitudes(self, items: list[tuple[Morph, int, int]]) -> torch.Tensor:
        """Decoded magnitudes ``[len(items), n_bins, n_frames]`` of (morph, pitch, velocity) items.

        All latents (one per note, one per breakpoint for ramps) decode as one batch;
        a ramped note blends its breakpoint decodes frame by frame.
        """
        zs, gains, pitches, vels, spans = [], [], [], [], []
        for morph, pitch, velocity in items:
            v = self.library.nearest_velocity(velocity)
            z, g = self.latents_and_gains(morph, pitch, v)
            spans.append((len(zs), z.shape[0]))
            zs.extend(z)
            gains.extend(g)
            pitches += [pitch] * z.shape[0]
            vels += [v] * z.shape[0]
        z = torch.stack(zs).to(self.model.device)
        mags = self.model.decode(z, torch.tensor(pitches), torch.tensor(vels))  # [n_latents, n_bins, n_frames]
        gain = torch.stack(gains)
        if bool((gain != 0).any()):
            mags = mags * torch.pow(10.0, gain / 20.0).to(mags)[:, None, None]
        if all(n == 1 for _, n in spans):
            return mags
        frame_s = self.model.stft.hop / self.model.stft.sample_rate
        out = []
        for (morph, _, _), (first, n) in zip(items, spans):
            if n == 1:
                out.append(mags[first])
                continue
            blend = ramp_frame_blend([t for t, _ in morph.ramp], mags.shape[-1], frame_s).to(mags)
            out.append(torch.einsum("kf,kbf->bf", blend, mags[first:first + n]))
        return torch.stack(out)

    def render_batch(self, items: list[tuple[Morph, int, int]]) -> list[RenderedNote]:
        """Render (morph, pitch, velocity) items (validated morphs) as one batch, with one
        model and library throughout (:meth:`swap` waits for the batch)."""
        with self._parts_lock:
            return self._render_batch(items)

    def _render_batch(self, items: list[tuple[Morph, int, int]]) -> list[RenderedNote]:
        stft = self.model.stft
        mags = self.render_magnitudes(items)
        audio = reconstruct_phase(mags, self.phase, self.n_iter, stft.n_fft, stft.hop)  # [batch, n_samples]
        audio = audio.float().cpu().numpy()
        audio = resample(audio, stft.sample_rate, self.out_rate)
        if audio.ndim == 1:
            audio = audio[None]
        notes = []
        for (_, pitch, velocity), a in zip(items, audio):
            a = np.ascontiguousarray(a, dtype=np.float32)
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            start, end = find_loop(a, self.out_rate, f0, self.hold_end)
            level_loop(a, start, end, max(int(2 * self.out_rate / f0), int(LEVEL_WINDOW_S * self.out_rate)))
            smooth_loop_seam(a, start, end, max(int(self.out_rate / f0), int(SEAM_S * self.out_rate)))
            notes.append(RenderedNote(a, self.out_rate, self.hold_end, start, end, pitch,
                                      self.library.nearest_velocity(velocity)))
        return notes

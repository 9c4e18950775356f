"""A user's one-note sound files: read, checked up front, and fitted to what the model hears.

A sampler that takes anything and plays back mush is worse than one that says which file
is wrong and why, before it encodes or imports a thing. :func:`note_problems` lists what
makes a note unusable (a sample rate below the model's, too little sound, one file holding
more than a note, silence, clipping); :func:`load_note` reads a file, refuses it with one
line naming the file and every problem, and detects its pitch when none is given.
``library add`` (CLI, OSC ``/library/add``, ``Synth.add``) and ``dataset import`` use them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.pitch import KEY_HIGH, KEY_LOW, autocorrelation_pitch

MIN_RATE = 16000          # the model's rate: a file below it has lost what the model plays
MIN_SOUND_S = 0.1         # of sound after the leading silence
MAX_SECONDS = 30.0        # a longer file is a phrase or a loop, not one note
SILENT_DBFS = -60.0       # peak
CLIP_LEVEL = 0.99         # of full scale
CLIP_RUN = 4              # identical samples in a row at CLIP_LEVEL: a flat top, not a peak
MIN_CLARITY = 0.5         # normalised autocorrelation at the pitch: notes ~0.95, noise ~0.05
TRIM_THRESHOLD_DB = -50.0  # below the peak: what counts as the silence before a note
TRIM_PREROLL_S = 0.005


def read_sound(path: str | Path) -> tuple[np.ndarray, int]:
    """A sound file mixed to mono: ``(audio [n_samples] float32, sample_rate)``."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise MorphsynthError(f"{path}: audio file not found")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise MorphsynthError(f"{path}: not a readable sound file ({str(exc).splitlines()[0]})") from None
    if audio.shape[0] == 0:
        raise MorphsynthError(f"{path}: sound file is empty")
    return np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32), int(rate)


def trim_leading_silence(audio: np.ndarray, sample_rate: int, threshold_db: float = TRIM_THRESHOLD_DB) -> np.ndarray:
    """Drop the silence before the first sample within ``threshold_db`` of the peak
    (keeping ``TRIM_PREROLL_S`` before it): ``[n]`` → ``[m <= n]``."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if peak <= 0:
        return audio
    loud = np.flatnonzero(np.abs(audio) >= peak * 10 ** (threshold_db / 20))
    start = max(0, int(loud[0]) - int(TRIM_PREROLL_S * sample_rate))
    return audio[start:]


def fit_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """``[n]`` → ``[n_samples]`` float32, zero-padded or cut at the end."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if audio.size >= n_samples:
        return np.ascontiguousarray(audio[:n_samples])
    return np.pad(audio, (0, n_samples - audio.size))


def fit_note(audio: np.ndarray, n_samples: int, sample_rate: int) -> np.ndarray:
    """A user's note as the model expects it: trimmed, ``[n_samples]`` float32."""
    audio = trim_leading_silence(audio, sample_rate)
    if not np.any(audio):
        raise MorphsynthError("library add: the note is silent")
    return fit_length(audio, n_samples)


def clipped_samples(audio: np.ndarray) -> int:
    """Samples of ``audio`` ``[n]`` in flat tops: runs of at least ``CLIP_RUN`` identical
    values at ``CLIP_LEVEL`` of full scale or more (a peak of a clean note, even one
    normalised to 0 dBFS, is not flat)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    hot = np.abs(x) >= CLIP_LEVEL
    if np.count_nonzero(hot) < CLIP_RUN:
        return 0
    same = np.zeros_like(hot)
    same[1:] = hot[1:] & hot[:-1] & (x[1:] == x[:-1])
    # Runs of "same as the previous sample": a run of r such flags is r + 1 flat samples.
    edges = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = ends - starts + 1
    return int(runs[runs >= CLIP_RUN].sum())


def note_problems(audio: np.ndarray, sample_rate: int) -> list[str]:
    """Why ``audio`` ``[n_samples]`` (mono, at ``sample_rate``) cannot be one note for the
    model, as short phrases saying what to do; empty when it can."""
    problems = []
    seconds = audio.shape[0] / sample_rate
    if sample_rate < MIN_RATE:
        problems.append(f"sample rate {sample_rate} Hz is below the model's {MIN_RATE} Hz (record or export "
                        f"at {MIN_RATE} Hz or more)")
    if seconds > MAX_SECONDS:
        problems.append(f"{seconds:.1f} s long: one note per file, at most {MAX_SECONDS:g} s")
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    peak_db = 20 * math.log10(peak) if peak > 0 else -math.inf
    if not math.isfinite(peak):
        problems.append("holds NaN or infinite samples")
    elif peak_db < SILENT_DBFS:
        problems.append(f"silent (peak {peak_db:.0f} dBFS, below {SILENT_DBFS:g} dBFS)")
    else:
        sound = trim_leading_silence(audio, sample_rate).shape[0] / sample_rate
        if sound < MIN_SOUND_S:
            problems.append(f"only {sound * 1000:.0f} ms of sound (at least {MIN_SOUND_S * 1000:.0f} ms)")
        clipped = clipped_samples(audio)
        if clipped:
            problems.append(f"clipped: {clipped} samples in flat tops at full scale (record or export it "
                            f"quieter)")
    return problems


def check_note(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Raise one :class:`MorphsynthError` line naming ``path`` and every problem of its note."""
    problems = note_problems(audio, sample_rate)
    if problems:
        raise MorphsynthError(f"{path}: " + "; ".join(problems))


def detect_pitch(audio: np.ndarray, sample_rate: int, where: str = "library add") -> int:
    """MIDI key of a steady note ``[n_samples]`` (autocorrelation f0 past the attack), rounded."""
    f0, clarity = autocorrelation_pitch(trim_leading_silence(audio, sample_rate), sample_rate)
    if f0 <= 0 or clarity < MIN_CLARITY:
        raise MorphsynthError(f"{where}: no steady pitch detected in the note (a drum or a noise?); give its pitch")
    pitch = int(round(69 + 12 * math.log2(f0 / 440.0)))
    if not KEY_LOW <= pitch <= KEY_HIGH:
        raise MorphsynthError(f"{where}: detected pitch {pitch} ({f0:.1f} Hz) is outside the keyboard "
                              f"{KEY_LOW}-{KEY_HIGH}; give its pitch")
    return pitch


def load_note(path: str | Path, sample_rate: int, pitch: int | None = None) -> tuple[np.ndarray, int]:
    """One checked note file at ``sample_rate``: ``(audio [n_samples] float32, pitch)``, the
    pitch detected when not given. Every problem is found before anything is encoded."""
    from morphsynth.core.resample import resample

    audio, rate = read_sound(path)
    check_note(path, audio, rate)
    audio = resample(audio, rate, int(sample_rate))
    if pitch is None:
        pitch = detect_pitch(audio, int(sample_rate), where=str(path))
    elif isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not KEY_LOW <= pitch <= KEY_HIGH:
        raise MorphsynthError(f"{path}: pitch {pitch!r} is not a MIDI key {KEY_LOW}-{KEY_HIGH}")
    return audio, int(pitch)

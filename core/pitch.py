"""Pitch helpers: MIDI numbers and Hz, and a fundamental-frequency estimate by
autocorrelation that needs no model (library add, dataset checks, tests)."""

from __future__ import annotations

import numpy as np
import torch

# The 88 keys of a piano, as MIDI numbers: the range every note of the model lies in.
KEY_LOW, KEY_HIGH = 21, 108


def midi_to_hz(pitch: torch.Tensor | float) -> torch.Tensor:
    """MIDI note number to frequency in Hz (A4 = 69 = 440 Hz)."""
    return 440.0 * torch.pow(2.0, (torch.as_tensor(pitch, dtype=torch.float64) - 69.0) / 12.0)


def hz_to_midi(hz: torch.Tensor | float) -> torch.Tensor:
    return 69.0 + 12.0 * torch.log2(torch.as_tensor(hz, dtype=torch.float64) / 440.0)


def autocorrelation_f0(audio: np.ndarray, sample_rate: int, fmin: float = 25.0, fmax: float = 4200.0,
                       start_s: float = 0.1, dur_s: float = 1.0) -> float:
    """Fundamental in Hz of a steady note by normalised autocorrelation (0.0 for silence);
    see :func:`autocorrelation_pitch`."""
    return autocorrelation_pitch(audio, sample_rate, fmin, fmax, start_s, dur_s)[0]


def autocorrelation_pitch(audio: np.ndarray, sample_rate: int, fmin: float = 25.0, fmax: float = 4200.0,
                          start_s: float = 0.1, dur_s: float = 1.0) -> tuple[float, float]:
    """``(f0 in Hz, clarity)`` of a steady note by normalised autocorrelation.

    audio: ``[n_samples]``. Analyses ``dur_s`` seconds from ``start_s`` (past the
    attack). Returns ``(0.0, 0.0)`` for silence. Picks the first lag whose normalised
    autocorrelation is within 90 % of the best, which avoids octave-down errors,
    and refines it by parabolic interpolation. clarity: the normalised autocorrelation
    at that lag, near 1 for a periodic note and low for noise (a drum, a breath).
    """
    x = np.asarray(audio, dtype=np.float64)
    seg = x[int(start_s * sample_rate): int((start_s + dur_s) * sample_rate)]
    if seg.size < 64 or not np.any(seg):
        return 0.0, 0.0
    seg = seg - seg.mean()
    n = 1 << int(np.ceil(np.log2(2 * seg.size)))
    spec = np.fft.rfft(seg, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: seg.size]
    if ac[0] <= 0:
        return 0.0, 0.0
    # Unbias: divide by the overlap length so long lags are not penalised.
    ac = ac / (ac[0] * (seg.size - np.arange(seg.size)) / seg.size)
    lo = max(2, int(sample_rate / fmax))
    hi = min(seg.size // 2, int(sample_rate / fmin))
    if hi <= lo + 2:
        return 0.0, 0.0
    region = ac[lo:hi]
    best = region.max()
    if best <= 0:
        return 0.0, 0.0
    # First local maximum reaching 90 % of the best peak.
    peaks = np.where((region[1:-1] >= region[:-2]) & (region[1:-1] >= region[2:]) & (region[1:-1] >= 0.9 * best))[0] + 1
    k = int(peaks[0]) if peaks.size else int(np.argmax(region))
    clarity = float(min(1.0, max(0.0, region[k])))
    lag = float(lo + k)
    if 0 < k < region.size - 1:
        a, b, c = region[k - 1], region[k], region[k + 1]
        denom = a - 2 * b + c
        if denom != 0:
            lag += 0.5 * (a - c) / denom
    return sample_rate / lag, clarity


def cents_off(f0_hz: float, midi_pitch: float) -> float:
    """Signed distance in cents from ``f0_hz`` to the MIDI pitch; inf for 0 Hz."""
    if f0_hz <= 0:
        return float("inf")
    return 1200.0 * float(np.log2(f0_hz / (440.0 * 2 ** ((midi_pitch - 69) / 12))))

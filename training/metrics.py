"""Reconstruction metrics on magnitude spectrograms and pitch checks on audio.

Definitions (shared with ``../shared/docs/phase-and-metrics.md``):

* spectral convergence ``SC = ‖S − Ŝ‖_F / ‖S‖_F`` against the reference magnitude ``S``;
* log-spectral distance: both magnitudes in dB, floored ``floor_db`` below the
  reference note's peak, RMS over frequency of the difference, mean over frames.
"""

from __future__ import annotations

import numpy as np
import torch

from morphsynth.training.spectral import amplitude_to_db


def spectral_convergence(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """ref, est: ``[..., n_bins, n_frames]`` magnitudes → ``[...]``."""
    num = torch.linalg.vector_norm(ref - est, dim=(-2, -1))
    den = torch.linalg.vector_norm(ref, dim=(-2, -1)).clamp_min(1e-12)
    return num / den


def log_spectral_distance(ref: torch.Tensor, est: torch.Tensor, floor_db: float = -80.0) -> torch.Tensor:
    """ref, est: ``[..., n_bins, n_frames]`` magnitudes → ``[...]`` in dB."""
    peak = ref.amax(dim=(-2, -1), keepdim=True)
    ref_db = amplitude_to_db(ref, floor_db, peak)
    est_db = amplitude_to_db(est, floor_db, peak)
    per_frame = (ref_db - est_db).pow(2).mean(dim=-2).sqrt()  # [..., n_frames]
    return per_frame.mean(dim=-1)


def autocorrelation_f0(audio: np.ndarray, sample_rate: int, fmin: float = 25.0, fmax: float = 4200.0,
                       start_s: float = 0.1, dur_s: float = 1.0) -> float:
    """Fundamental in Hz of a steady note by normalised autocorrelation.

    audio: ``[n_samples]``. Analyses ``dur_s`` seconds from ``start_s`` (past the
    attack). Returns 0.0 for silence. Picks the first lag whose normalised
    autocorrelation is within 90 % of the best, which avoids octave-down errors,
    and refines it by parabolic interpolation.
    """
    x = np.asarray(audio, dtype=np.float64)
    seg = x[int(start_s * sample_rate): int((start_s + dur_s) * sample_rate)]
    if seg.size < 64 or not np.any(seg):
        return 0.0
    seg = seg - seg.mean()
    n = 1 << int(np.ceil(np.log2(2 * seg.size)))
    spec = np.fft.rfft(seg, n)
    ac = np.fft.irfft(spec * np.conj(spec), n)[: seg.size]
    if ac[0] <= 0:
        return 0.0
    # Unbias: divide by the overlap length so long lags are not penalised.
    ac = ac / (ac[0] * (seg.size - np.arange(seg.size)) / seg.size)
    lo = max(2, int(sample_rate / fmax))
    hi = min(seg.size // 2, int(sample_rate / fmin))
    if hi <= lo + 2:
        return 0.0
    region = ac[lo:hi]
    best = region.max()
    if best <= 0:
        return 0.0
    # First local maximum reaching 90 % of the best peak.
    peaks = np.where((region[1:-1] >= region[:-2]) & (region[1:-1] >= region[2:]) & (region[1:-1] >= 0.9 * best))[0] + 1
    k = int(peaks[0]) if peaks.size else int(np.argmax(region))
    lag = float(lo + k)
    if 0 < k < region.size - 1:
        a, b, c = region[k - 1], region[k], region[k + 1]
        denom = a - 2 * b + c
        if denom != 0:
            lag += 0.5 * (a - c) / denom
    return sample_rate / lag


def cents_off(f0_hz: float, midi_pitch: float) -> float:
    """Signed distance in cents from ``f0_hz`` to the MIDI pitch; inf for 0 Hz."""
    if f0_hz <= 0:
        return float("inf")
    return 1200.0 * float(np.log2(f0_hz / (440.0 * 2 ** ((midi_pitch - 69) / 12))))

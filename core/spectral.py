"""Spectral transforms as pure torch functions.

The NSynth spectral baseline's representation: 16 kHz audio, ``n_fft`` 1024,
hop 256, a periodic Hann window, centred frames with zero padding (librosa's
convention, so the two agree), all ``n_fft // 2 + 1`` = 513 linear bins. A 4 s
note is ``[513, 251]``.

No import from the rest of the package: the server and the training code both
build on these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class StftSettings:
    """The analysis every model, metric and phase method of a checkpoint shares."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 256

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Frames of a centred STFT of ``n_samples`` samples."""
        return n_samples // self.hop + 1

    def n_samples(self, n_frames: int) -> int:
        return (n_frames - 1) * self.hop


def _window(n_fft: int, like: torch.Tensor) -> torch.Tensor:
    dtype = like.real.dtype if like.is_complex() else like.dtype
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=like.device)


def stft(audio: torch.Tensor, n_fft: int = 1024, hop: int = 256) -> torch.Tensor:
    """Complex STFT.

    audio: ``[..., n_samples]`` float. Returns ``[..., n_fft // 2 + 1, n_frames]``
    complex with ``n_frames = n_samples // hop + 1``.
    """
    shape = audio.shape[:-1]
    flat = audio.reshape(-1, audio.shape[-1])  # [batch, n_samples]
    spec = torch.stft(flat, n_fft, hop_length=hop, window=_window(n_fft, flat), center=True,
                      pad_mode="constant", return_complex=True)
    return spec.reshape(*shape, *spec.shape[-2:])


def istft(spec: torch.Tensor, n_fft: int = 1024, hop: int = 256, length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft` (least-squares overlap-add).

    spec: ``[..., n_bins, n_frames]`` complex. Returns ``[..., length]`` float,
    ``length`` defaulting to ``(n_frames - 1) * hop``.
    """
    shape = spec.shape[:-2]
    flat = spec.reshape(-1, *spec.shape[-2:])  # [batch, n_bins, n_frames]
    audio = torch.istft(flat, n_fft, hop_length=hop, window=_window(n_fft, flat), center=True,
                        length=length)
    return audio.reshape(*shape, audio.shape[-1])


def magnitude(audio: torch.Tensor, n_fft: int = 1024, hop: int = 256) -> torch.Tensor:
    """``|stft(audio)|``: ``[..., n_samples]`` → ``[..., n_bins, n_frames]``."""
    return stft(audio, n_fft, hop).abs()


def amplitude_to_db(mag: torch.Tensor, floor_db: float = -80.0, ref: torch.Tensor | float | None = None) -> torch.Tensor:
    """``20 log10(mag / ref)`` floored at ``floor_db``.

    ``ref`` defaults to each item's peak over its last two axes, so the floor
    sits ``floor_db`` below the note's loudest bin. mag: ``[..., n_bins, n_frames]``.
    """
    if ref is None:
        ref = mag.amax(dim=(-2, -1), keepdim=True)
    ref = torch.as_tensor(ref, dtype=mag.dtype, device=mag.device).clamp_min(1e-12)
    db = 20.0 * torch.log10(mag.clamp_min(1e-12) / ref)
    return db.clamp_min(floor_db)


def log_spectral_distance(ref: torch.Tensor, est: torch.Tensor, floor_db: float = -80.0) -> torch.Tensor:
    """Log-spectral distance in dB: ref, est ``[..., n_bins, n_frames]`` magnitudes → ``[...]``.

    Both in dB, floored ``floor_db`` below the reference note's peak; RMS over frequency of
    the difference, mean over frames.
    """
    peak = ref.amax(dim=(-2, -1), keepdim=True)
    ref_db = amplitude_to_db(ref, floor_db, peak)
    est_db = amplitude_to_db(est, floor_db, peak)
    per_frame = (ref_db - est_db).pow(2).mean(dim=-2).sqrt()  # [..., n_frames]
    return per_frame.mean(dim=-1)


def db_to_amplitude(db: torch.Tensor, ref: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Inverse of :func:`amplitude_to_db` above the floor."""
    return torch.pow(10.0, db / 20.0) * ref


def magnitude_to_log(mag: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Natural-log magnitude ``log(mag + eps)``; ``eps`` is the floor (−80 dB of full scale at 1e-4)."""
    return torch.log(mag + eps)


def log_to_magnitude(logmag: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Inverse of :func:`magnitude_to_log`, clamped to be non-negative."""
    return (torch.exp(logmag) - eps).clamp_min(0.0)


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    """Slaney mel scale (librosa's default, ``htk=False``)."""
    hz = torch.as_tensor(hz, dtype=torch.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    lin = hz / f_sp
    log = min_log_mel + torch.log(hz.clamp_min(1e-10) / min_log_hz) / logstep
    return torch.where(hz >= min_log_hz, log, lin)


def mel_to_hz(mel: torch.Tensor | float) -> torch.Tensor:
    mel = torch.as_tensor(mel, dtype=torch.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return torch.where(mel >= min_log_mel, min_log_hz * torch.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filterbank(sample_rate: int = 16000, n_fft: int = 1024, n_mels: int = 128,
                   fmin: float = 0.0, fmax: float | None = None) -> torch.Tensor:
    """Slaney-normalised triangular mel filters, ``[n_mels, n_fft // 2 + 1]`` float32.

    Matches ``librosa.filters.mel`` with its defaults. Optional: the measured
    cost of a 128-band mel bottleneck is about 4 dB log-spectral distance.
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_f = mel_to_hz(torch.linspace(float(hz_to_mel(fmin)), float(hz_to_mel(fmax)), n_mels + 2, dtype=torch.float64))
    fdiff = torch.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]  # [n_mels + 2, n_bins]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).float()


def energy_db(mag: torch.Tensor) -> torch.Tensor:
    """``10 log10(Σ mag²)`` over bins and frames, in float64, the sum floored at 1e-20."""
    return 10.0 * torch.log10(mag.double().pow(2).sum(dim=(-2, -1)).clamp_min(1e-20))


def magnitude_level_db(mag: torch.Tensor) -> torch.Tensor:
    """Level of notes from their magnitude: ``[..., n_bins, n_frames]`` → ``[...]`` float32 dB
    (10 log10 of the summed squared magnitude; only differences mean anything)."""
    return energy_db(mag).float()

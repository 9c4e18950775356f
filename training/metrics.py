"""Reconstruction metrics on magnitude spectrograms and on audio.

Definitions (shared with ``../shared/docs/phase-and-metrics.md``):

* spectral convergence ``SC = ‖S − Ŝ‖_F / ‖S‖_F`` against the reference magnitude ``S``;
* log-spectral distance (``core.spectral.log_spectral_distance``, in core because
  ``library add`` also uses it): both magnitudes in dB, floored ``floor_db`` below the
  reference note's peak, RMS over frequency of the difference, mean over frames;
* level difference: ``10 log10(Σ Ŝ² / Σ S²)`` over the whole note, in dB, positive
  when the estimate is louder;
* multi-resolution log-mel distance (:func:`multires_log_mel_distance`): mean
  absolute difference of mel power in dB at several STFT sizes, on audio.
"""

from __future__ import annotations

import functools
from typing import Sequence

import torch

from morphsynth.core.spectral import energy_db, hz_to_mel, mel_to_hz


def spectral_convergence(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """ref, est: ``[..., n_bins, n_frames]`` magnitudes → ``[...]``."""
    num = torch.linalg.vector_norm(ref - est, dim=(-2, -1))
    den = torch.linalg.vector_norm(ref, dim=(-2, -1)).clamp_min(1e-12)
    return num / den


def level_difference_db(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """Energy of ``est`` over that of ``ref`` in dB: ref, est ``[..., n_bins, n_frames]`` magnitudes → ``[...]``.

    ``10 log10(Σ est² / Σ ref²)`` over bins and frames: 0 for the same level, +6 for an
    estimate twice as loud in amplitude. Both sums are floored at 1e-20.
    """
    return (energy_db(est) - energy_db(ref)).to(ref.dtype)


@functools.lru_cache(maxsize=16)
def mel_triangles(sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Triangular mel filters peaking at 1, ``[n_mels, n_fft // 2 + 1]`` float32.

    Slaney's mel scale from 0 Hz to Nyquist with no area normalisation: the same as
    ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, norm=None)``. Without
    the area normalisation a sinusoid keeps its power in the band it falls in, whatever the
    band's width, so one floor means the same level at every resolution.
    """
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(0.0, float(hz_to_mel(sample_rate / 2)), n_mels + 2, dtype=torch.float64))
    fdiff = torch.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]  # [n_mels + 2, n_bins]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    return torch.clamp(torch.minimum(lower, upper), min=0.0).float()


def multires_log_mel_distance(ref_audio: torch.Tensor, est_audio: torch.Tensor, sample_rate: int = 16000,
                              fft_sizes: Sequence[int] = (2048, 1024, 512, 256),
                              n_mels: Sequence[int] = (128, 96, 64, 32), floor_db: float = -80.0) -> torch.Tensor:
    """Multi-resolution log-mel distance in dB: ref_audio, est_audio ``[batch, n_samples]`` → ``[batch]``.

    At each resolution ``(n_fft, m)`` of ``zip(fft_sizes, n_mels)``: a centred STFT
    (periodic Hann window, hop ``n_fft // 4``, zero padding), scaled by ``2 / Σ window`` so a
    sinusoid of amplitude ``A`` peaks at ``A`` in its bin; power ``P = |X|²`` through ``m``
    :func:`mel_triangles` bands, ``M = mel · P`` ``[batch, m, n_frames]``; with
    ``eps = 10^(floor_db / 10) · max(M_ref)`` per note (``floor_db`` below the reference's
    loudest mel cell, as the log-spectral distance floors its dB), the distance is the
    ``mean over bands and frames of |10 log10(M_ref + eps) − 10 log10(M_est + eps)|``.
    The result is the mean over resolutions. Identical audio scores 0; a gain of ``g`` dB
    costs about ``|g|`` in every cell well above the floor, and nothing where both notes are
    far below it.
    """
    if ref_audio.shape != est_audio.shape or ref_audio.dim() != 2:
        raise ValueError(f"ref_audio, est_audio: expected two [batch, n_samples] tensors of one shape, "
                         f"got {list(ref_audio.shape)} and {list(est_audio.shape)}")
    if len(fft_sizes) != len(n_mels) or not fft_sizes:
        raise ValueError(f"fft_sizes {list(fft_sizes)}, n_mels {list(n_mels)}: expected lists of one non-zero length")
    both = torch.cat([ref_audio, est_audio]).float()  # [2 * batch, n_samples]
    batch = ref_audio.shape[0]
    total = torch.zeros(batch, dtype=torch.float32, device=both.device)
    for n_fft, m in zip(fft_sizes, n_mels):
        window = torch.hann_window(n_fft, periodic=True, dtype=both.dtype, device=both.device)
        spec = torch.stft(both, n_fft, hop_length=n_fft // 4, window=window, center=True, pad_mode="constant",
                          return_complex=True)  # [2 * batch, n_fft // 2 + 1, n_frames]
        power = (spec.abs() * (2.0 / window.sum())).pow(2)
        mel = torch.matmul(mel_triangles(int(sample_rate), int(n_fft), int(m)).to(both.device), power)
        ref, est = mel[:batch], mel[batch:]  # [batch, m, n_frames]
        eps = (10.0 ** (floor_db / 10.0)) * ref.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-20)
        total += (10.0 * (torch.log10(ref + eps) - torch.log10(est + eps))).abs().mean(dim=(-2, -1))
    return total / len(fft_sizes)

"""Pitch of rendered notes: CREPE f0 and pitch accuracy against MIDI pitches.

``crepe_f0`` runs torchcrepe (the ``tiny`` model by default, about 5× faster than
``full`` on 2 cores) on the first 2 s of each note at 16 kHz and takes the median
f0. Two torchcrepe pitfalls are handled here: it imports torchaudio only to load
files, and the torchaudio wheel does not match the CPU torch build, so an empty
module stands in for it; and ``fmin`` below CREPE's lowest bin (31.7 Hz) makes it
return garbage, so ``fmin`` is held at 32 Hz or more.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.pitch import autocorrelation_f0, cents_off

CREPE_SAMPLE_RATE = 16000
CREPE_MIN_FMIN = 32.0


def _torchcrepe():
    # torchcrepe's load.py imports torchaudio at module level but we never load files with it.
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    import torchcrepe

    return torchcrepe


def _as_batch(audio) -> tuple[torch.Tensor, bool]:
    """``[n]`` or ``[batch, n]`` array or tensor → float32 ``[batch, n]`` tensor, was-single flag."""
    x = torch.as_tensor(np.asarray(audio) if not isinstance(audio, torch.Tensor) else audio)
    if x.dim() not in (1, 2):
        raise MorphsynthError(f"audio: expected [n_samples] or [batch, n_samples], got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise MorphsynthError(f"audio: expected floating-point samples, got {x.dtype}")
    single = x.dim() == 1
    return (x.unsqueeze(0) if single else x).float(), single


def resample_to(audio: torch.Tensor, sample_rate: int, target_rate: int) -> torch.Tensor:
    """soxr (high quality) resampling, ``[batch, n]`` → ``[batch, m]`` float32 on the CPU."""
    if sample_rate == target_rate:
        return audio
    import soxr

    x = audio.detach().cpu().numpy().astype(np.float32)  # [batch, n]
    # soxr treats a 2-D array as [n, channels]: each note is one channel.
    y = soxr.resample(np.ascontiguousarray(x.T), sample_rate, target_rate, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(y.T))


def crepe_f0(audio, sample_rate: int, model: str = "tiny", fmin: float = CREPE_MIN_FMIN,
             fmax: float = 2006.0, duration_s: float = 2.0, hop_s: float = 0.02,
             device: str | torch.device | None = None, notes_per_call: int = 16) -> torch.Tensor:
    """Median CREPE f0 in Hz of each note's first ``duration_s`` seconds.

    audio: ``[batch, n_samples]`` or ``[n_samples]`` (array or tensor) at
    ``sample_rate``. Returns ``[batch]`` (or a 0-d tensor) float32 on the CPU.
    Frames every ``hop_s`` seconds; the median over frames ignores CREPE's
    frame-to-frame octave slips on attacks. ``fmax`` defaults to CREPE's top bin.
    """
    if model not in ("tiny", "full"):
        raise MorphsynthError(f"model: CREPE capacity must be 'tiny' or 'full', got {model!r}")
    if fmin < CREPE_MIN_FMIN:
        raise MorphsynthError(f"fmin: {fmin} Hz is below CREPE's lowest bin; use >= {CREPE_MIN_FMIN} Hz")
    if sample_rate <= 0:
        raise MorphsynthError(f"sample_rate: must be positive, got {sample_rate}")
    x, single = _as_batch(audio)
    x = x[:, : int(round(duration_s * sample_rate))]
    x = resample_to(x, int(sample_rate), CREPE_SAMPLE_RATE)
    if x.shape[-1] < 1024:
        raise MorphsynthError(f"audio: {x.shape[-1]} samples at 16 kHz is shorter than one CREPE frame (1024)")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tc = _torchcrepe()
    hop = max(1, int(round(hop_s * CREPE_SAMPLE_RATE)))
    medians = []
    with torch.no_grad():
        # A few notes per call: torchcrepe frames all of its input at once.
        for chunk in x.split(notes_per_call):
            f0 = tc.predict(chunk, CREPE_SAMPLE_RATE, hop_length=hop, fmin=fmin, fmax=fmax, model=model,
                            decoder=tc.decode.weighted_argmax, device=str(device), batch_size=None)
            medians.append(f0.float().cpu().median(dim=-1).values)  # [chunk]
    result = torch.cat(medians)
    return result[0] if single else result


def autocorrelation_f0_batch(audio, sample_rate: int) -> torch.Tensor:
    """:func:`morphsynth.core.pitch.autocorrelation_f0` per note: ``[batch, n]`` → ``[batch]``."""
    x, single = _as_batch(audio)
    result = torch.tensor([autocorrelation_f0(row.numpy(), sample_rate) for row in x.cpu()], dtype=torch.float32)
    return result[0] if single else result


def pitch_cents(audios, pitches, sample_rate: int, method: str = "crepe", **crepe_options) -> np.ndarray:
    """``[batch]`` float64: signed cents from each note's f0 to its pitch, ``inf`` where no f0 was found.

    audios: ``[batch, n_samples]``; pitches: ``[batch]`` MIDI numbers (fractional allowed).
    method: ``"crepe"`` (:func:`crepe_f0`) or ``"autocorrelation"``.
    """
    x, _ = _as_batch(audios)
    midi = np.asarray(pitches, dtype=np.float64).reshape(-1)
    if midi.size != x.shape[0]:
        raise MorphsynthError(f"pitches: {midi.size} pitches for {x.shape[0]} notes")
    if method not in ("crepe", "autocorrelation"):
        raise MorphsynthError(f"method: unknown pitch method {method!r}; choose 'crepe' or 'autocorrelation'")
    if not midi.size:
        return np.zeros(0)
    f0 = crepe_f0(x, sample_rate, **crepe_options) if method == "crepe" else autocorrelation_f0_batch(x, sample_rate)
    return np.array([cents_off(float(f), float(p)) for f, p in zip(f0.reshape(-1).tolist(), midi.tolist())],
                    dtype=np.float64)


def pitch_hits(audios, pitches, sample_rate: int, cents: float = 50.0, method: str = "crepe",
               **crepe_options) -> np.ndarray:
    """``[batch]`` bool: whether each note's f0 lies within ±``cents`` of its MIDI pitch (:func:`pitch_cents`)."""
    return np.abs(pitch_cents(audios, pitches, sample_rate, method, **crepe_options)) <= cents


def pitch_accuracy(audios, pitches, sample_rate: int, cents: float = 50.0, method: str = "crepe",
                   **crepe_options) -> float:
    """Share of notes whose f0 lies within ±``cents`` of their MIDI pitch (see :func:`pitch_hits`)."""
    return hit_rate(pitch_hits(audios, pitches, sample_rate, cents, method, **crepe_options))


def hit_rate(hits: np.ndarray) -> float:
    """Share of ``True`` in ``hits`` (any sequence of bools; 0 for none)."""
    hits = np.asarray(hits, dtype=bool)
    return float(hits.mean()) if hits.size else 0.0

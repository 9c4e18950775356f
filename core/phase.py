"""Phase reconstruction: magnitude spectrogram → audio.

Methods (all take ``mag [batch, n_bins, n_frames]`` linear magnitudes, centred
periodic-Hann STFT with zero padding as in :mod:`morphsynth.core.spectral`,
and return ``audio [batch, (n_frames - 1) * hop]``):

* ``griffinlim``: fast Griffin-Lim (Perraudin, Balazs & Søndergaard 2013), the
  alternating projection with a momentum step, batched in torch from a seeded
  random phase. Runs on the device of ``mag``.
* ``pghi``: Phase Gradient Heuristic Integration (Průša, Balazs & Søndergaard
  2017) in a vectorised, peak-locked form (see :func:`pghi_phase`): phase
  gradients from the log-magnitude, integrated forward in time along
  spectral peaks and across frequency from each peak inside its lobe. The only
  sequential part is one gather per frame over the whole batch, so it runs on
  any device. ``n_iter > 0`` continues with fast Griffin-Lim from that phase.
* ``pghi_heap``: the paper's heap integration (max-heap over bins above a
  tolerance, numpy + a tight ``heapq`` loop per note, computed on the CPU), kept
  as the faithful reference and measured against the vectorised one.
* the modes ``fast`` and ``quality`` name the settings below, picked by measurement.

Measured with ``benchmarks/bench_phase.py --repeat 2`` (40 FluidR3_GM notes, 20
programs × 2 pitches between MIDI 36 and 84, velocity 100, 16 kHz, 4 s, from their
true magnitudes; 2-core CPU shared with other jobs (load average 6.6), one torch
thread, batches of 8, fastest of two interleaved rounds; all rows in one process,
so the ratios compare like with like; pitch accuracy by CREPE tiny, ±50 cents):

==================================  =======  ======  ======  ======  =====  ======  =======
method                              ms/note  SC      SC med  LSD dB  pitch  ×lib32  ×lib100
==================================  =======  ======  ======  ======  =====  ======  =======
true phase (upper bound)                3.2  0.0000  0.0000    0.00  0.975    97.5    229.3
random phase (lower bound)              5.0  0.6433  0.6459    5.22  0.800    63.7    149.8
librosa.griffinlim 32 it.             316.1  0.0692  0.0691    1.25  0.975     1.0      2.4
librosa.griffinlim 100 it.            743.1  0.0317  0.0288    0.86  0.975     0.4      1.0
pghipy (numba), one pass               66.4  0.0463  0.0334    2.08  0.975     4.8     11.2
fast Griffin-Lim 32 it.               148.3  0.0728  0.0736    1.26  0.975     2.1      5.0
fast Griffin-Lim 100 it.              389.0  0.0317  0.0290    0.86  0.975     0.8      1.9
PGHI (vectorised), one pass             8.9  0.0543  0.0360    2.23  0.975    35.5     83.4
PGHI (vectorised) + 2 fGL it.          18.5  0.0323  0.0215    1.39  0.975    17.1     40.2
PGHI (vectorised) + 4 fGL it.          27.5  0.0286  0.0197    1.23  0.975    11.5     27.0
PGHI (vectorised) + 8 fGL it.          48.1  0.0243  0.0164    1.06  0.975     6.6     15.4
PGHI (vectorised) + 16 fGL it.         64.4  0.0205  0.0122    0.93  0.975     4.9     11.5
PGHI (vectorised) + 32 fGL it.        103.4  0.0183  0.0109    0.83  0.975     3.1      7.2
PGHI (heap), one pass                 241.5  0.0480  0.0316    2.10  0.975     1.3      3.1
PGHI (heap) + 16 fGL it.              258.5  0.0181  0.0123    0.84  0.975     1.2      2.9
mode 'fast' (PGHI + 2 it.)             22.0  0.0323  0.0215    1.39  0.975    14.4     33.8
mode 'quality' (PGHI + 32 it.)        129.7  0.0183  0.0109    0.83  0.975     2.4      5.7
==================================  =======  ======  ======  ======  =====  ======  =======

(The two mode rows repeat two rows above; their spread, 18.5 vs 22.0 and 103.4 vs
129.7 ms, is the load from other processes. An earlier run on the same machine gave
11.8 and 79.0 ms for them against 406.9 and 1165.3 ms for librosa.) On one H100
(``--device cuda``, all 40 notes in one batch) the same settings take 0.3 ms/note
(fast), 0.7 (quality) and 1.1 (fast Griffin-Lim 32 it.) with the same SC.

Why these modes:

* ``fast`` = vectorised PGHI + 2 fast Griffin-Lim iterations. One pass alone is
  the quickest (35× librosa's 32 iterations) but leaves a few notes near 0.12 SC
  (saw lead, string ensemble, high cello); two iterations cost about 2 × 2.5 ms per
  note and take mean SC from 0.054 to 0.032 and LSD from 2.2 to 1.4 dB, better than
  librosa's 32 iterations (0.069) while staying above 10× faster (14-17×).
* ``quality`` = vectorised PGHI + 32 iterations: the cheapest measured setting with
  SC clearly under 0.02 (16 iterations gave 0.0205), 5.7-7.2× faster than
  librosa's 100 iterations in this run (14.7× in the earlier one), with a lower LSD.
  Heap PGHI + 16 iterations reaches the same SC but its Python heap costs
  100-240 ms per note; 100 plain iterations from random phase stop at 0.032.
* Heap vs vectorised PGHI: the heap is better in one pass (0.048 vs 0.054 SC) and
  matches pghipy (0.046), but is 15-25× slower; after iterations the gap is gone.
* Batches of 8 on the CPU (larger ones are memory-bound on 2 cores), everything at
  once on a GPU. Measure again before changing either.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import torch

from morphsynth.core.errors import MorphsynthError

# gamma of the Gaussian that best matches a Hann window of length n_fft, in units of n_fft**2
# (Průša et al. 2017, table 1).
HANN_GAMMA = 0.25645

# name → (method, n_iter). Chosen from the table in the module docstring.
MODES = {
    "fast": ("pghi", 2),
    "quality": ("pghi", 32),
}

METHODS = ("griffinlim", "pghi", "pghi_heap")


# ---------------------------------------------------------------------------
# A frames-major STFT pair for the iterations: [batch, n_frames, n_bins] keeps each
# frame's FFT contiguous and lets overlap-add be a few shifted adds.

class _FramesStft:
    """Centred periodic-Hann STFT/iSTFT with zero padding for a fixed frame count.

    Agrees with :func:`morphsynth.core.spectral.stft` and ``istft`` up to
    the frame layout: spectra here are ``[batch, n_frames, n_bins]``.
    """

    def __init__(self, n_fft: int, hop: int, n_frames: int, dtype: torch.dtype, device: torch.device):
        self.n_fft, self.hop, self.n_frames = n_fft, hop, n_frames
        self.length = (n_frames - 1) * hop
        self.window = torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)
        envelope = _overlap_add((self.window ** 2).expand(1, n_frames, n_fft), hop)[0]
        # Least-squares iSTFT divides by the summed squared window; 0 where no frame reaches.
        inv = torch.where(envelope > 1e-10, 1.0 / envelope.clamp_min(1e-10), torch.zeros_like(envelope))
        self.inv_envelope = inv[n_fft // 2: n_fft // 2 + self.length]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio ``[batch, length]`` → complex ``[batch, n_frames, n_bins]``."""
        half = self.n_fft // 2
        padded = torch.nn.functional.pad(audio, (half, half))
        frames = padded.unfold(-1, self.n_fft, self.hop)  # [batch, n_frames, n_fft]
        return torch.fft.rfft(frames * self.window, dim=-1)

    def inverse(self, spec: torch.Tensor) -> torch.Tensor:
        """complex ``[batch, n_frames, n_bins]`` → audio ``[batch, length]``."""
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1).mul_(self.window)  # [batch, n_frames, n_fft]
        half = self.n_fft // 2
        return _overlap_add(frames, self.hop)[:, half: half + self.length] * self.inv_envelope


def _overlap_add(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """``[batch, n_frames, n_fft]`` → ``[batch, (n_frames - 1) * hop + n_fft]``, frames summed ``hop`` apart."""
    batch, n_frames, n_fft = frames.shape
    out = frames.new_zeros(batch, (n_frames - 1) * hop + n_fft)
    if n_fft % hop == 0:
        # n_fft / hop shifted adds of whole hop-sized blocks beat fold's index arithmetic.
        r = n_fft // hop
        chunks = frames.reshape(batch, n_frames, r, hop)
        for k in range(r):
            out[:, k * hop: (k + n_frames) * hop] += chunks[:, :, k, :].reshape(batch, n_frames * hop)
        return out
    return torch.nn.functional.fold(frames.transpose(1, 2), output_size=(1, out.shape[-1]),
                                    kernel_size=(1, n_fft), stride=(1, hop)).reshape(batch, -1)


def _check_mag(mag: torch.Tensor, n_fft: int) -> None:
    if not isinstance(mag, torch.Tensor):
        raise MorphsynthError(f"mag: expected a torch.Tensor, got {type(mag).__name__}")
    if mag.dim() != 3:
        raise MorphsynthError(f"mag: expected [batch, n_bins, n_frames], got shape {tuple(mag.shape)}")
    if mag.shape[1] != n_fft // 2 + 1:
        raise MorphsynthError(f"mag: {mag.shape[1]} bins does not match n_fft {n_fft} ({n_fft // 2 + 1} bins)")
    if mag.shape[2] < 2:
        raise MorphsynthError(f"mag: needs at least 2 frames, got {mag.shape[2]}")
    if mag.is_complex() or not mag.is_floating_point():
        raise MorphsynthError(f"mag: expected real floating-point magnitudes, got {mag.dtype}")


def random_phase(shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Uniform phase in [-π, π), drawn on the CPU from ``seed`` so every device gets the same."""
    gen = torch.Generator().manual_seed(seed)
    draw = torch.float64 if dtype == torch.float64 else torch.float32
    return ((torch.rand(shape, generator=gen, dtype=draw) * 2 - 1) * math.pi).to(dtype=dtype, device=device)


def griffin_lim(mag: torch.Tensor, n_iter: int = 32, momentum: float = 0.99, phase: torch.Tensor | None = None,
                n_fft: int = 1024, hop: int = 256, seed: int = 0) -> torch.Tensor:
    """Fast Griffin-Lim with momentum (librosa's update rule), batched.

    mag: ``[batch, n_bins, n_frames]``; phase: optional start phase of the same
    shape (radians), else a uniform random phase from ``seed``. Returns
    ``[batch, (n_frames - 1) * hop]`` on ``mag``'s device. ``n_iter = 0`` just
    inverts ``mag`` with the start phase.
    """
    _check_mag(mag, n_fft)
    if phase is None:
        phase = random_phase(tuple(mag.shape), seed, mag.dtype, mag.device)
    elif phase.shape != mag.shape:
        raise MorphsynthError(f"phase: shape {tuple(phase.shape)} does not match mag {tuple(mag.shape)}")
    ops = _FramesStft(n_fft, hop, mag.shape[-1], mag.dtype, mag.device)
    target = mag.transpose(1, 2).contiguous()  # [batch, n_frames, n_bins]
    spec = torch.polar(target, phase.to(mag.device, mag.dtype).transpose(1, 2).contiguous())
    eps = torch.finfo(mag.dtype).tiny
    keep = momentum / (1.0 + momentum)
    previous = None
    for _ in range(n_iter):
        rebuilt = ops.forward(ops.inverse(spec))
        spec = rebuilt.clone() if previous is None else torch.sub(rebuilt, previous, alpha=keep)
        # Projection onto the target magnitude: keep the phase, take |mag|. In place, since
        # these complex element-wise passes cost as much as the FFTs on the CPU.
        spec.mul_(target / (spec.abs() + eps))
        previous = rebuilt
    return ops.inverse(spec)


# ---------------------------------------------------------------------------
# PGHI

def phase_gradients(mag: torch.Tensor, n_fft: int = 1024, hop: int = 256,
                    tol: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Phase derivatives of a Hann-window STFT estimated from its log-magnitude.

    mag: ``[batch, n_bins, n_frames]``. Returns ``(dphase_dframe, dphase_dbin)``,
    both ``[batch, n_bins, n_frames]`` in radians per frame and per bin, for the
    frame-start phase convention of ``torch.stft``:

    * ``dphase_dframe = (hop n_fft / gamma) d(log s)/dbin + 2π hop bin / n_fft``
    * ``dphase_dbin = -(gamma / (hop n_fft)) d(log s)/dframe + π``

    with ``gamma = 0.25645 n_fft²``. Magnitudes are floored at ``tol`` times each
    note's peak so silence has zero log-gradient instead of NaN.
    """
    peak = mag.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30)
    log_mag = torch.log(torch.maximum(mag, peak * tol))
    d_bin, d_frame = torch.gradient(log_mag, dim=(-2, -1))
    gamma = HANN_GAMMA * n_fft ** 2
    bins = torch.arange(mag.shape[-2], dtype=mag.dtype, device=mag.device)[:, None]
    dphase_dframe = (hop * n_fft / gamma) * d_bin + (2 * math.pi * hop / n_fft) * bins
    # The +π is the frame-start (not window-centred) phase reference: (-1)^bin.
    dphase_dbin = -(gamma / (hop * n_fft)) * d_frame + math.pi
    return dphase_dframe, dphase_dbin


def pghi_phase(mag: torch.Tensor, n_fft: int = 1024, hop: int = 256, tol: float = 1e-5) -> torch.Tensor:
    """Vectorised, peak-locked PGHI phase. mag ``[batch, n_bins, n_frames]`` → phase, same shape.

    In each frame every bin is assigned to the spectral peak it reaches by steepest
    ascent along frequency. A peak's phase comes from its own bin in the previous
    frame plus the trapezoid of the time derivative (the heap's time step along a
    partial); every other bin takes its peak's phase plus the integral of the
    frequency derivative from the peak (the heap's frequency steps inside a lobe).
    Only ``phase[n] = phase[n-1][owner[n]] + step[n]`` runs frame by frame.
    Of the vectorised orders tried it measured best: integrating outward from
    the loudest frame (as the heap does at onsets) or letting bins take a time step
    where the previous frame is louder both gave higher spectral convergence. It
    trails the heap by about 0.006 SC; a few Griffin-Lim iterations make up for it.
    """
    _check_mag(mag, n_fft)
    batch, n_bins, n_frames = mag.shape
    dt, df = phase_gradients(mag, n_fft, hop, tol)
    peak = mag.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-30)
    level = torch.maximum(mag, peak * tol).transpose(1, 2)  # [batch, n_frames, n_bins]
    left = torch.nn.functional.pad(level[..., :-1], (1, 0), value=-1.0)
    right = torch.nn.functional.pad(level[..., 1:], (0, 1), value=-1.0)
    # Steepest ascent along frequency. A bin moves only to a strictly louder neighbour, so
    # chains cannot cycle and the floored silence stays put (its own peak, no long chains).
    step = torch.where((right > level) & (right > left), 1, torch.where(left > level, -1, 0))
    owner = torch.arange(n_bins, device=mag.device) + step  # [batch, n_frames, n_bins]
    # Pointer jumping: after k rounds every bin points 2**k steps up its chain.
    for _ in range(max(1, math.ceil(math.log2(n_bins)))):
        jumped = owner.gather(-1, owner)
        if torch.equal(jumped, owner):
            break
        owner = jumped
    # Integral of the frequency derivative from bin 0 (trapezoid rule).
    df = df.transpose(1, 2)
    steps = 0.5 * (df[..., 1:] + df[..., :-1])
    integral = torch.cat([torch.zeros_like(df[..., :1]), torch.cumsum(steps, dim=-1)], dim=-1)
    from_peak = integral - integral.gather(-1, owner)
    dt = dt.transpose(1, 2)
    time_step = torch.cat([torch.zeros_like(dt[:, :1]), 0.5 * (dt[:, 1:] + dt[:, :-1])], dim=1)
    increment = torch.remainder(time_step.gather(-1, owner) + from_peak, 2 * math.pi)
    owner = owner.permute(1, 0, 2).contiguous()  # [n_frames, batch, n_bins]
    increment = increment.permute(1, 0, 2).contiguous()
    phase = torch.empty_like(increment)
    phase[0] = increment[0]
    for n in range(1, n_frames):
        phase[n] = torch.remainder(phase[n - 1].gather(-1, owner[n]) + increment[n], 2 * math.pi)
    return phase.permute(1, 2, 0).contiguous()


def pghi_heap_phase(mag: torch.Tensor, n_fft: int = 1024, hop: int = 256, tol: float = 1e-4,
                    seed: int = 0) -> torch.Tensor:
    """PGHI by heap integration (Průša et al. 2017, algorithm 1), note by note on the CPU.

    mag: ``[batch, n_bins, n_frames]`` → phase, same shape and device. Bins quieter
    than ``tol`` times the note's peak are not integrated and keep a random
    phase from ``seed``; every island of louder bins starts at its maximum.
    """
    _check_mag(mag, n_fft)
    dt_all, df_all = phase_gradients(mag.detach().double().cpu(), n_fft, hop, tol=1e-10)
    rand = random_phase(tuple(mag.shape), seed, torch.float64).numpy()
    out = np.empty(mag.shape, dtype=np.float64)
    mags = mag.detach().double().cpu().numpy()
    for b in range(mag.shape[0]):
        out[b] = _heap_integrate(mags[b], dt_all[b].numpy(), df_all[b].numpy(), tol, rand[b])
    return torch.from_numpy(out).to(dtype=mag.dtype, device=mag.device)


def _heap_integrate(mag: np.ndarray, dt: np.ndarray, df: np.ndarray, tol: float, start: np.ndarray) -> np.ndarray:
    """One note: ``[n_bins, n_frames]`` arrays → phase ``[n_bins, n_frames]``."""
    n_bins, n_frames = mag.shape
    width = n_frames + 2

    def padded(a: np.ndarray, fill: float = 0.0) -> np.ndarray:
        # A border of never-to-do cells around the grid replaces four bounds checks per bin.
        out = np.full((n_bins + 2, width), fill, dtype=np.float64)
        out[1:-1, 1:-1] = a
        return out.ravel()

    flat = padded(mag, -1.0)
    # Python lists and ints: element access on them is several times faster than on numpy arrays.
    todo = bytearray((flat > tol * mag.max()).astype(np.uint8).tobytes())
    phase = padded(start).tolist()
    half_dt = (0.5 * padded(dt)).tolist()
    half_df = (0.5 * padded(df)).tolist()
    # The heap holds magnitude ranks: ints compare faster than (magnitude, index) tuples.
    order_np = np.argsort(-flat, kind="stable")
    rank_np = np.empty_like(order_np)
    rank_np[order_np] = np.arange(order_np.size)
    order, rank = order_np.tolist(), rank_np.tolist()
    heappush, heappop = heapq.heappush, heapq.heappop
    for seed_rank, seed in enumerate(order):
        if not todo[seed]:
            continue
        todo[seed] = 0
        phase[seed] = 0.0
        heap = [seed_rank]
        while heap:
            i = order[heappop(heap)]
            p, hdt, hdf = phase[i], half_dt[i], half_df[i]
            j = i + 1  # next frame
            if todo[j]:
                todo[j] = 0
                phase[j] = p + hdt + half_dt[j]
                heappush(heap, rank[j])
            j = i - 1  # previous frame
            if todo[j]:
                todo[j] = 0
                phase[j] = p - hdt - half_dt[j]
                heappush(heap, rank[j])
            j = i + width  # next bin
            if todo[j]:
                todo[j] = 0
                phase[j] = p + hdf + half_df[j]
                heappush(heap, rank[j])
            j = i - width  # previous bin
            if todo[j]:
                todo[j] = 0
                phase[j] = p - hdf - half_df[j]
                heappush(heap, rank[j])
    return np.asarray(phase).reshape(n_bins + 2, width)[1:-1, 1:-1]


# ---------------------------------------------------------------------------

def reconstruct(mag: torch.Tensor, method: str = "fast", n_iter: int | None = None, momentum: float = 0.99,
                batch_size: int | None = None, n_fft: int = 1024, hop: int = 256, seed: int = 0,
                tol: float | None = None) -> torch.Tensor:
    """Audio from a linear magnitude spectrogram.

    mag: ``[batch, n_bins, n_frames]`` (or ``[n_bins, n_frames]``, giving
    ``[n_samples]``). method: ``"fast"``, ``"quality"`` (see :data:`MODES`),
    ``"griffinlim"`` (``n_iter`` defaults to 32), ``"pghi"`` or ``"pghi_heap"``
    (one pass unless ``n_iter`` adds fast Griffin-Lim iterations). ``n_iter``
    overrides a mode's count. ``batch_size`` splits the batch (default 8 on the
    CPU, where small batches are faster per note, everything at once elsewhere).
    Returns ``[batch, (n_frames - 1) * hop]`` on ``mag``'s device.
    """
    if method in MODES:
        method, mode_iter = MODES[method]
        n_iter = mode_iter if n_iter is None else n_iter
    if method not in METHODS:
        raise MorphsynthError(f"method: unknown phase method {method!r}; choose from "
                              f"{', '.join(list(MODES) + list(METHODS))}")
    if n_iter is None:
        n_iter = 32 if method == "griffinlim" else 0
    if n_iter < 0:
        raise MorphsynthError(f"n_iter: must be >= 0, got {n_iter}")
    single = isinstance(mag, torch.Tensor) and mag.dim() == 2
    if single:
        mag = mag.unsqueeze(0)
    _check_mag(mag, n_fft)
    if batch_size is None:
        batch_size = 8 if mag.device.type == "cpu" else mag.shape[0]
    if batch_size < 1:
        raise MorphsynthError(f"batch_size: must be >= 1, got {batch_size}")
    start = random_phase(tuple(mag.shape), seed, mag.dtype, mag.device) if method == "griffinlim" else None
    outputs = []
    with torch.no_grad():
        for lo in range(0, mag.shape[0], batch_size):
            chunk = mag[lo: lo + batch_size]
            if method == "griffinlim":
                phase = start[lo: lo + batch_size]
            elif method == "pghi":
                phase = pghi_phase(chunk, n_fft, hop, **({} if tol is None else {"tol": tol}))
            else:
                phase = pghi_heap_phase(chunk, n_fft, hop, seed=seed, **({} if tol is None else {"tol": tol}))
            outputs.append(griffin_lim(chunk, n_iter, momentum, phase, n_fft, hop))
    audio = torch.cat(outputs, dim=0)
    return audio[0] if single else audio

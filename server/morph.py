"""Morphs: which library sources to mix, with what weights, and how.

A :class:`Morph` is an immutable description (safe to swap atomically between
threads); the functions below turn it into latents. Nothing here touches the model:
the renderer decodes what these functions produce.

Interpolation choices:

* ``linear``: a convex combination of the source latents (N-way, weights normalised).
* ``slerp``: spherical interpolation between two sources, taken around the library's
  mean latent rather than the origin. The CAE latent is not zero-mean; an arc around
  the centroid keeps the distance from the "typical note", while the straight line
  passes closer to it (a blander midpoint).
* XY: the first four sources at the corners of the unit square, bilinear weights,
  continuous positions (no snapping).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from morphsynth.core.errors import MorphsynthError

INTERPS = ("linear", "slerp")
# Weights are rounded to this step in cache keys: finer moves than 1/256 are inaudible.
WEIGHT_STEP = 1.0 / 256


@dataclass(frozen=True)
class Morph:
    """A mix of library sources.

    sources: library source names (>= 1). weights: one non-negative weight per source,
    not all zero, normalised on use. interp: ``linear`` or ``slerp`` (two sources).
    knobs: offsets along the library's principal latent axes, in standard deviations.
    ramp: ``(time_s, weights)`` breakpoints over the note (weights over time replace
    ``weights``); ``()`` keeps the morph static.
    """

    sources: tuple[str, ...]
    weights: tuple[float, ...]
    interp: str = "linear"
    knobs: tuple[float, ...] = ()
    ramp: tuple[tuple[float, tuple[float, ...]], ...] = ()

    def validate(self) -> "Morph":
        """Raise :class:`MorphsynthError` (one line) on bad values; returns self."""
        if not isinstance(self.sources, tuple) or len(self.sources) == 0:
            raise MorphsynthError("morph: needs at least one source")
        for name in self.sources:
            if not isinstance(name, str) or not name:
                raise MorphsynthError(f"morph: source names must be non-empty strings, got {name!r}")
        _check_weights("morph: weights", self.weights, len(self.sources))
        if self.interp not in INTERPS:
            raise MorphsynthError(f"morph: interp must be one of {', '.join(INTERPS)}, got {self.interp!r}")
        if self.interp == "slerp" and len(self.sources) != 2:
            raise MorphsynthError(f"morph: slerp mixes exactly 2 sources, got {len(self.sources)}")
        for i, k in enumerate(self.knobs):
            if not _finite(k):
                raise MorphsynthError(f"morph: knob {i + 1} must be a finite number, got {k!r}")
        last = -math.inf
        for i, point in enumerate(self.ramp):
            if not (isinstance(point, tuple) and len(point) == 2):
                raise MorphsynthError(f"morph: ramp point {i} must be (time_s, weights)")
            t, w = point
            if not _finite(t) or t < 0:
                raise MorphsynthError(f"morph: ramp point {i}: time must be >= 0 s, got {t!r}")
            if t < last:
                raise MorphsynthError(f"morph: ramp point {i}: times must not decrease ({t} after {last})")
            last = t
            _check_weights(f"morph: ramp point {i} weights", w, len(self.sources))
        return self

    def normalised(self) -> tuple[float, ...]:
        return normalise_weights(self.weights)

    def cache_key(self) -> tuple:
        """A hashable key in which morphs that sound the same (weights within 1/256) agree."""
        return (
            self.sources,
            quantise_weights(self.weights),
            self.interp,
            tuple(_round(k, WEIGHT_STEP) for k in self.knobs),
            tuple((round(float(t), 3), quantise_weights(w)) for t, w in self.ramp),
        )


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_weights(what: str, weights, n: int) -> None:
    if not isinstance(weights, tuple) or len(weights) != n:
        got = len(weights) if isinstance(weights, (tuple, list)) else type(weights).__name__
        raise MorphsynthError(f"{what}: need {n} weight(s), one per source, got {got}")
    for w in weights:
        if not _finite(w) or w < 0:
            raise MorphsynthError(f"{what}: each weight must be a finite number >= 0, got {w!r}")
    if sum(weights) <= 0:
        raise MorphsynthError(f"{what}: weights are all zero")


def _round(x: float, step: float) -> float:
    return round(round(float(x) / step) * step, 9)


def normalise_weights(weights) -> tuple[float, ...]:
    """Non-negative weights scaled to sum to 1."""
    total = float(sum(weights))
    if total <= 0:
        raise MorphsynthError("morph: weights are all zero")
    return tuple(float(w) / total for w in weights)


def quantise_weights(weights) -> tuple[float, ...]:
    """Normalised weights rounded to :data:`WEIGHT_STEP` (for cache keys)."""
    return tuple(_round(w, WEIGHT_STEP) for w in normalise_weights(weights))


def xy_weights(x: float, y: float) -> tuple[float, float, float, float]:
    """Bilinear weights of the corners (0,0), (1,0), (0,1), (1,1) at position (x, y).

    x, y in [0, 1] (clamped), continuous; the weights sum to 1.
    """
    if not (_finite(x) and _finite(y)):
        raise MorphsynthError(f"xy: position must be two finite numbers, got ({x!r}, {y!r})")
    x = min(max(float(x), 0.0), 1.0)
    y = min(max(float(y), 0.0), 1.0)
    return ((1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y)


def pad_weights(n_sources: int, x: float, y: float) -> tuple[float, ...]:
    """The weights of ``n_sources`` sources at pad position (x, y): two share x, three take
    the first three corners (renormalised), four or more the corners (the rest weigh 0)."""
    if n_sources == 1:
        return (1.0,)
    if n_sources == 2:
        return (1.0 - x, x) if 0.0 < x < 1.0 else ((1.0, 0.0) if x <= 0.0 else (0.0, 1.0))
    corners = xy_weights(x, y)
    if n_sources == 3:
        w = corners[:3]
        return w if sum(w) > 0 else (1 / 3, 1 / 3, 1 / 3)
    return corners + (0.0,) * (n_sources - 4)


def xy_morph(sources, x: float, y: float, knobs: tuple[float, ...] = ()) -> Morph:
    """A morph of the first four ``sources`` placed at the corners of the XY square."""
    sources = tuple(sources)
    if len(sources) < 4:
        raise MorphsynthError(f"xy: needs 4 sources at the corners, got {len(sources)}")
    w = xy_weights(x, y) + (0.0,) * (len(sources) - 4)
    return Morph(sources, w, "linear", tuple(knobs)).validate()


def lerp(z0: torch.Tensor, z1: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """Linear interpolation. z0, z1: ``[..., latent_dim]``; alpha 0 → z0, 1 → z1."""
    return z0 + (z1 - z0) * alpha


def slerp(z0: torch.Tensor, z1: torch.Tensor, alpha: float, center: torch.Tensor | None = None,
          eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation around ``center`` (default the origin).

    z0, z1, center: ``[latent_dim]``. Moves along the great-circle arc between the two
    directions (as seen from ``center``) while the length goes linearly from |z0| to |z1|,
    so the endpoints are exact and the path is continuous in alpha. Falls back to lerp
    when the directions (anti-)coincide, where the arc is undefined.
    """
    c = torch.zeros_like(z0) if center is None else center.to(z0)
    a, b = z0 - c, z1 - c
    na, nb = a.norm(), b.norm()
    if na < eps or nb < eps:
        return lerp(z0, z1, alpha)
    ua, ub = a / na, b / nb
    cos = torch.clamp((ua * ub).sum(), -1.0, 1.0)
    theta = torch.arccos(cos)
    s = torch.sin(theta)
    if s < 1e-4:
        return lerp(z0, z1, alpha)
    direction = (torch.sin((1 - alpha) * theta) * ua + torch.sin(alpha * theta) * ub) / s
    length = na + (nb - na) * alpha
    return c + direction * length


def mix_latents(latents: torch.Tensor, weights, interp: str = "linear",
                center: torch.Tensor | None = None) -> torch.Tensor:
    """One latent from several sources.

    latents: ``[n_sources, latent_dim]``; weights: ``n_sources`` non-negative numbers
    (normalised here). Returns ``[latent_dim]``. ``slerp`` needs two sources and uses
    the second weight's share as alpha.
    """
    w = normalise_weights(weights)
    if interp == "slerp":
        if latents.shape[0] != 2:
            raise MorphsynthError(f"morph: slerp mixes exactly 2 sources, got {latents.shape[0]}")
        return slerp(latents[0], latents[1], w[1], center)
    if interp != "linear":
        raise MorphsynthError(f"morph: interp must be one of {', '.join(INTERPS)}, got {interp!r}")
    wt = torch.tensor(w, dtype=latents.dtype, device=latents.device)
    return (wt[:, None] * latents).sum(dim=0)


def ramp_weights_at(ramp, t: float) -> tuple[float, ...]:
    """The (normalised) weights of a breakpoint ramp at time ``t`` seconds, linearly interpolated."""
    if t <= ramp[0][0]:
        return normalise_weights(ramp[0][1])
    for (t0, w0), (t1, w1) in zip(ramp, ramp[1:]):
        if t <= t1:
            a = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
            w0n, w1n = normalise_weights(w0), normalise_weights(w1)
            return tuple(x + (y - x) * a for x, y in zip(w0n, w1n))
    return normalise_weights(ramp[-1][1])


def ramp_frame_blend(times: list[float], n_frames: int, frame_s: float) -> torch.Tensor:
    """Per-frame blend of the decodes at each ramp breakpoint.

    times: breakpoint times in seconds (non-decreasing, K of them); frame ``f`` sits at
    ``f * frame_s`` seconds. Returns ``[K, n_frames]`` float32 whose columns sum to 1:
    frames before the first breakpoint use its decode alone, frames after the last use
    the last, frames between two breakpoints crossfade linearly.
    """
    k = len(times)
    out = torch.zeros(k, n_frames, dtype=torch.float32)
    t = torch.arange(n_frames, dtype=torch.float64) * frame_s
    out[0, t <= times[0]] = 1.0
    out[k - 1, t > times[-1]] = 1.0
    if k == 1:
        out[0] = 1.0
        return out
    for i in range(k - 1):
        t0, t1 = times[i], times[i + 1]
        inside = (t > t0) & (t <= t1)
        if t1 <= t0 or not bool(inside.any()):
            continue
        a = ((t[inside] - t0) / (t1 - t0)).float()
        out[i, inside] += 1.0 - a
        out[i + 1, inside] += a
    return out

"""Closed-form fits of the baselines (:class:`~morphsynth.core.baselines.PcaModel`) and of
:class:`~morphsynth.core.model.PitchBaseline`, the closed-form part of a CAE that decodes
a correction on top of a baseline.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from morphsynth.core.baselines import PcaModel
from morphsynth.core.model import BASELINE_ANCHORS, N_BINS, PitchBaseline, velocity_to_unit, warp_to_pitch


@torch.no_grad()
def fit_pca(model: PcaModel, x: torch.Tensor) -> torch.Tensor:
    """Fit the components to normalised features ``x [n, 513, n_frames]`` in place.

    Uses the eigendecomposition of the ``[n, n]`` Gram matrix (n notes ≪ 128,763
    dimensions), in float64 for a stable spectrum. Returns the explained variance
    ratio of each component ``[latent_dim]``.
    """
    n = x.shape[0]
    k = model.latent_dim
    if n < 2:
        raise ValueError("PCA needs at least two notes")
    flat = x.reshape(n, -1).double()
    mean = flat.mean(0)
    flat -= mean
    gram = flat @ flat.T  # [n, n]
    evals, evecs = torch.linalg.eigh(gram)
    order = torch.argsort(evals, descending=True)
    evals, evecs = evals[order].clamp_min(0), evecs[:, order]
    comps = torch.zeros(k, flat.shape[1], dtype=torch.float64, device=flat.device)
    m = min(k, n - 1)
    comps[:m] = (evecs[:, :m].T @ flat) / evals[:m].sqrt().clamp_min(1e-12)[:, None]
    model.mean.copy_(mean.float())
    model.components.copy_(comps.float())
    return (evals[:k] / evals.sum().clamp_min(1e-12)).float()


NoteBatches = Callable[[], Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]


@torch.no_grad()
def fit_pitch_baseline(base: PitchBaseline, batches: NoteBatches, pca_batches: NoteBatches | None = None) -> torch.Tensor:
    """Fit ``base`` in place to the training notes; returns the PCA's explained ratio ``[pca_dims]``
    (of the energy left by the mean; empty without PCA).

    ``batches()`` yields ``(x [b, 513, n_frames] normalised features, pitch [b], velocity [b])``
    and is called once for the mean; the PCA reads ``pca_batches()`` (default: ``batches()``
    again), which may be a subset, since it holds all its residuals ``[n, 513 * n_frames]``
    in memory.

    Mean: every note is warped from its pitch to the nearest anchor pitch; per anchor, a
    least-squares line in :func:`velocity_to_unit` gives the mean at velocity 64 and the
    slope (slope 0 where the anchor saw one velocity only). Anchors without notes copy
    the nearest fitted anchor, warped to their pitch.

    PCA: an uncentred PCA of ``x - mean(pitch, velocity)`` (the model reconstructs
    ``mean + projection`` with no further offset, and the uncentred basis is the one
    that minimises exactly that error), by the eigendecomposition of the ``[n, n]``
    Gram matrix.
    """
    n_anchors = len(BASELINE_ANCHORS)
    step = BASELINE_ANCHORS[1] - BASELINE_ANCHORS[0]
    device = base.anchor_mean.device
    shape = (n_anchors, N_BINS, base.n_frames)
    s_x = torch.zeros(shape, dtype=torch.float64, device=device)
    s_ux = torch.zeros(shape, dtype=torch.float64, device=device)
    s_n = torch.zeros(n_anchors, dtype=torch.float64, device=device)
    s_u = torch.zeros_like(s_n)
    s_uu = torch.zeros_like(s_n)
    for x, pitch, velocity in batches():
        x, pitch, velocity = x.to(device).float(), pitch.to(device), velocity.to(device)
        anchor = ((pitch.float() - BASELINE_ANCHORS[0]) / step).round().long().clamp(0, n_anchors - 1)  # [b]
        xw = warp_to_pitch(x, pitch, BASELINE_ANCHORS[0] + step * anchor.float()).double()
        u = velocity_to_unit(velocity).double()
        s_x.index_add_(0, anchor, xw)
        s_ux.index_add_(0, anchor, xw * u[:, None, None])
        s_n.index_add_(0, anchor, torch.ones_like(u))
        s_u.index_add_(0, anchor, u)
        s_uu.index_add_(0, anchor, u * u)
    if float(s_n.sum()) < 1:
        raise ValueError("the pitch baseline needs at least one note")
    fitted = s_n > 0
    n = s_n.clamp_min(1)
    mean_u = s_u / n
    var_u = s_uu / n - mean_u ** 2
    mean_x = s_x / n[:, None, None]
    cov = s_ux / n[:, None, None] - mean_u[:, None, None] * mean_x
    slope = torch.where((var_u > 1e-6)[:, None, None], cov / var_u.clamp_min(1e-6)[:, None, None], torch.zeros_like(cov))
    at64 = mean_x - slope * mean_u[:, None, None]
    have = fitted.nonzero().flatten()
    for a in range(n_anchors):
        if not fitted[a]:
            src = int(have[(have - a).abs().argmin()])
            pair = torch.stack([at64[src], slope[src]]).float()
            p_src = torch.full((2,), float(BASELINE_ANCHORS[src]), device=device)
            p_dst = torch.full((2,), float(BASELINE_ANCHORS[a]), device=device)
            at64[a], slope[a] = warp_to_pitch(pair, p_src, p_dst).double()
    base.anchor_mean.copy_(at64.to(base.anchor_mean.dtype))
    base.anchor_slope.copy_(slope.to(base.anchor_slope.dtype))
    if not base.pca_dims:
        return torch.zeros(0)

    rows = []
    for x, pitch, velocity in (pca_batches or batches)():
        x, pitch, velocity = x.to(device).float(), pitch.to(device), velocity.to(device)
        rows.append((x - base.mean(pitch, velocity)).flatten(1))
    resid = torch.cat(rows)  # [n, 513 * n_frames]
    del rows
    k = base.pca_dims
    n_notes = resid.shape[0]
    if n_notes < k:
        raise ValueError(f"the baseline's PCA needs at least {k} notes, got {n_notes}")
    gram = (resid @ resid.T).double()  # [n, n]
    evals, evecs = torch.linalg.eigh(gram)
    order = torch.argsort(evals, descending=True)
    evals, evecs = evals[order].clamp_min(0), evecs[:, order]
    comps = (evecs[:, :k].T.float() @ resid) / evals[:k].sqrt().clamp_min(1e-12).float()[:, None]  # [k, D]
    base.components.copy_(comps)
    base.coeff_std.copy_((evals[:k] / n_notes).sqrt().clamp_min(1e-6).float())
    return (evals[:k] / evals.sum().clamp_min(1e-12)).float()

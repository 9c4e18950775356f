"""Evaluation of models on held-out notes: reconstruction, pitch, interpolation, figures.

For each model (the CAE and the baselines, all :class:`SynthModel`):

* ``lsd_db`` / ``spectral_convergence``: of the decoded magnitude against the true one
  (:mod:`morphsynth.training.metrics`), mean over notes;
* ``pitch_accuracy``: share of reconstructions (MIDI 28-94) whose f0 (CREPE through
  :mod:`morphsynth.training.pitch`, audio from :func:`morphsynth.training.phase.reconstruct`)
  lies within ±50 cents of the MIDI pitch; ``source_pitch_accuracy`` is the same
  measure on the original notes (the ceiling the data allows);
* interpolation: pairs of different instruments at the same pitch and velocity,
  latents mixed ``(1 - alpha) z_a + alpha z_b`` for alpha 0, 0.25, 0.5, 0.75, 1.
  ``interp_pitch_accuracy`` is the pitch accuracy of the 50/50 mixes;
  ``centroid_max_step_ratio`` is the largest step of the spectral centroid between
  neighbouring alphas over the mean step (1 = evenly spaced, 4 = all in one step),
  ``centroid_monotonic`` the share of pairs whose centroid moves monotonically.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from morphsynth.errors import MorphsynthError
from morphsynth.training.metrics import log_spectral_distance, spectral_convergence
from morphsynth.training.synth_model import SynthModel

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Pitch is measured only where CREPE is reliable: its bins span 31.7-2006 Hz, and
# within a few semitones of either end it mis-reads clean notes too.
PITCH_RANGE = (28, 94)


@dataclass
class EvalNotes:
    """Held-out notes: ``mag [n, 513, n_frames]`` and their labels."""

    mag: torch.Tensor
    pitch: torch.Tensor
    velocity: torch.Tensor
    instrument: list[str]
    family: list[str]
    note_str: list[str]

    def __len__(self) -> int:
        return self.mag.shape[0]


def load_eval_notes(data: str | Path, max_notes: int | None = None, seed: int = 0) -> EvalNotes:
    """Notes of ``data``: one split folder (``DIR/nsynth-test``) or a root (its test split).

    ``max_notes`` keeps a seeded random subset.
    """
    from morphsynth.training.nsynth import FAMILIES, EXAMPLES_JSON, NSynthDataset

    data = Path(data)
    split = None if (data / EXAMPLES_JSON).is_file() else "test"
    ds = NSynthDataset(data, split)
    n = len(ds)
    if n == 0:
        raise MorphsynthError(f"{data}: no notes to evaluate")
    order = list(range(n))
    if max_notes is not None and max_notes < n:
        order = sorted(random.Random(seed).sample(order, max_notes))
    items = [ds[i] for i in order]
    return EvalNotes(
        mag=torch.stack([torch.as_tensor(it["mag"], dtype=torch.float32) for it in items]),
        pitch=torch.tensor([int(it["pitch"]) for it in items]),
        velocity=torch.tensor([int(it["velocity"]) for it in items]),
        instrument=[it["instrument_str"] for it in items],
        family=[FAMILIES[it["family"]] if 0 <= it["family"] < len(FAMILIES) else str(it["family"]) for it in items],
        note_str=[it["note_str"] for it in items],
    )


def reconstruct_all(model: SynthModel, notes: EvalNotes, batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z [n, latent_dim], decoded magnitude [n, 513, n_frames])`` on the CPU."""
    zs, mags = [], []
    for lo in range(0, len(notes), batch_size):
        sl = slice(lo, lo + batch_size)
        z = model.encode(notes.mag[sl], notes.pitch[sl], notes.velocity[sl])
        zs.append(z.cpu())
        mags.append(model.decode(z, notes.pitch[sl], notes.velocity[sl]).cpu())
    return torch.cat(zs), torch.cat(mags)


def spectral_centroid_hz(mag: torch.Tensor, sample_rate: int = 16000) -> torch.Tensor:
    """Power-weighted mean frequency over the whole note: ``[batch, n_bins, n_frames]`` → ``[batch]`` Hz."""
    n_bins = mag.shape[-2]
    freqs = torch.linspace(0, sample_rate / 2, n_bins, dtype=mag.dtype, device=mag.device)
    power = mag.pow(2).sum(-1)  # [batch, n_bins]
    return (power * freqs).sum(-1) / power.sum(-1).clamp_min(1e-12)


def interpolation_pairs(notes: EvalNotes, n_pairs: int, seed: int = 0) -> list[tuple[int, int]]:
    """Up to ``n_pairs`` index pairs: different instruments, same pitch and velocity."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(len(notes)):
        groups.setdefault((int(notes.pitch[i]), int(notes.velocity[i])), []).append(i)
    candidates = []
    for idx in groups.values():
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                if notes.instrument[idx[a]] != notes.instrument[idx[b]]:
                    candidates.append((idx[a], idx[b]))
    rng = random.Random(seed)
    rng.shuffle(candidates)
    return candidates[:n_pairs]


def centroid_smoothness(centroids: np.ndarray) -> tuple[float, float]:
    """centroids ``[n_pairs, n_alphas]`` → (mean max-step/mean-step ratio, share monotonic)."""
    steps = np.abs(np.diff(centroids, axis=1))  # [n_pairs, n_alphas - 1]
    mean_step = steps.mean(axis=1)
    ratio = np.where(mean_step > 1e-6, steps.max(axis=1) / np.maximum(mean_step, 1e-6), 1.0)
    d = np.diff(centroids, axis=1)
    monotonic = np.all(d >= -1e-6, axis=1) | np.all(d <= 1e-6, axis=1)
    return float(ratio.mean()), float(monotonic.mean())


def evaluate(models: dict[str, SynthModel], notes: EvalNotes, out_dir: str | Path, *, n_pairs: int = 20,
             phase: str = "fast", pitch_method: str = "crepe", pitch_notes: int | None = None,
             seed: int = 0, log: Callable[[str], None] = print, title: str = "Evaluation") -> dict:
    """Metrics for every model on ``notes``; writes metrics.json, report.md and PNG figures to ``out_dir``.

    ``pitch_method``: ``crepe``, ``autocorrelation`` or ``none`` (skips the pitch
    metrics, which need audio and cost the most). ``pitch_notes`` caps the notes
    rendered to audio for the pitch measure (seeded subset).
    """
    from morphsynth.training import report
    from morphsynth.training.phase import reconstruct

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not models:
        raise MorphsynthError("no models to evaluate")
    sample_rate = next(iter(models.values())).stft.sample_rate
    do_pitch = pitch_method != "none"

    from morphsynth.training.pitch import hit_rate, pitch_hits

    def hits(mags: torch.Tensor, pitches: torch.Tensor) -> np.ndarray:
        audio = reconstruct(mags, method=phase)
        return pitch_hits(audio, pitches.tolist(), sample_rate, method=pitch_method)

    lo, hi = PITCH_RANGE
    pitch_idx = [i for i in range(len(notes)) if lo <= int(notes.pitch[i]) <= hi]
    if pitch_notes is not None and pitch_notes < len(pitch_idx):
        pitch_idx = sorted(random.Random(seed + 1).sample(pitch_idx, pitch_notes))
    pairs = interpolation_pairs(notes, n_pairs, seed)
    pitch_pairs = [k for k, (a, _) in enumerate(pairs) if lo <= int(notes.pitch[a]) <= hi]
    results: dict = {"phase": phase, "pitch_method": pitch_method, "pitch_range_midi": [lo, hi],
                     "n_pitch_notes": len(pitch_idx), "n_notes": len(notes),
                     "n_instruments": len(set(notes.instrument)), "n_pairs": len(pairs)}
    # Notes whose original already misses its MIDI pitch (organ stops an octave up, bells,
    # phase-reconstruction artefacts) cannot show whether a model keeps the pitch, so the
    # "_pitched" accuracies count only notes (and pairs) whose originals are on pitch.
    pitched, pitched_pairs = [], []
    if do_pitch:
        judged = sorted(set(pitch_idx) | {i for k in pitch_pairs for i in pairs[k]})
        on_pitch = dict(zip(judged, hits(notes.mag[judged], notes.pitch[judged]).tolist()))
        results["source_pitch_accuracy"] = hit_rate(np.array([on_pitch[i] for i in pitch_idx]))
        pitched = [k for k, i in enumerate(pitch_idx) if on_pitch[i]]
        pitched_pairs = [j for j, k in enumerate(pitch_pairs) if on_pitch[pairs[k][0]] and on_pitch[pairs[k][1]]]
        results["n_pitched_notes"], results["n_pitched_pairs"] = len(pitched), len(pitched_pairs)
        log(f"source notes: pitch accuracy {results['source_pitch_accuracy']:.3f} ({len(pitch_idx)} notes)")
    recon: dict[str, torch.Tensor] = {}
    latents: dict[str, torch.Tensor] = {}
    interp_mags: dict[str, list[torch.Tensor]] = {}
    for name, model in models.items():
        z, mag = reconstruct_all(model, notes)
        recon[name], latents[name] = mag, z
        lsd = log_spectral_distance(notes.mag, mag)
        sc = spectral_convergence(notes.mag, mag)
        m = {"kind": model.kind, "latent_dim": model.latent_dim, "model_hash": model.model_hash,
             "lsd_db": float(lsd.mean()), "lsd_db_median": float(lsd.median()),
             "spectral_convergence": float(sc.mean()), "n_notes": len(notes)}
        if pairs:
            ia = torch.tensor([a for a, _ in pairs])
            ib = torch.tensor([b for _, b in pairs])
            p, v = notes.pitch[ia], notes.velocity[ia]
            rows = []
            for alpha in ALPHAS:
                zm = (1 - alpha) * z[ia] + alpha * z[ib]
                rows.append(model.decode(zm, p, v).cpu())
            interp_mags[name] = rows
            cent = torch.stack([spectral_centroid_hz(r, sample_rate) for r in rows], dim=1).numpy()
            m["centroid_max_step_ratio"], m["centroid_monotonic"] = centroid_smoothness(cent)
        if do_pitch:
            h = hits(mag[pitch_idx], notes.pitch[pitch_idx])
            m["pitch_accuracy"], m["pitch_accuracy_pitched"] = hit_rate(h), hit_rate(h[pitched])
            if pitch_pairs:
                sel = torch.tensor(pitch_pairs)
                h = hits(interp_mags[name][2][sel], notes.pitch[ia][sel])
                m["interp_pitch_accuracy"] = hit_rate(h)
                m["interp_pitch_accuracy_pitched"] = hit_rate(h[pitched_pairs])
        results[name] = m
        log(f"{name}: LSD {m['lsd_db']:.2f} dB  SC {m['spectral_convergence']:.3f}"
            + (f"  pitch {m['pitch_accuracy']:.3f}" if "pitch_accuracy" in m else "")
            + (f"  interp pitch {m['interp_pitch_accuracy']:.3f}" if "interp_pitch_accuracy" in m else ""))

    (out_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    figures = _figures(models, notes, recon, latents, interp_mags, pairs, out_dir, seed)
    names = list(models)
    notes_md = [
        f"{len(notes)} held-out notes from {results['n_instruments']} instruments; {len(pairs)} interpolation pairs "
        f"(different instruments, same pitch and velocity).",
        f"Pitch: {pitch_method} f0 within ±50 cents on notes of MIDI {lo}-{hi} (CREPE's reliable range), "
        f"audio by phase reconstruction '{phase}'"
        + (f"; the original notes score {results['source_pitch_accuracy']:.3f}. \"On-pitch\" columns count only the "
           f"{len(pitched)} notes and {len(pitched_pairs)} pairs whose originals are within ±50 cents."
           if do_pitch else " (skipped)."),
        "LSD and SC compare decoded and true magnitudes (no phase involved).",
        "Centroid jump: largest step of the spectral centroid between neighbouring alphas over the mean step "
        "(1 = even steps).",
    ]
    report.write_report(out_dir / "report.md", title, results, names, notes_md, figures)
    return results


def _figures(models, notes: EvalNotes, recon, latents, interp_mags, pairs, out_dir: Path, seed: int) -> list[tuple[str, str]]:
    from morphsynth.training import report

    figures = []
    rng = random.Random(seed + 2)
    # Distinct instruments in the grid, so it shows timbre variety.
    by_inst: dict[str, int] = {}
    for i in rng.sample(range(len(notes)), len(notes)):
        by_inst.setdefault(notes.instrument[i], i)
    rows_idx = list(by_inst.values())[:4]
    rows = [(notes.note_str[i], notes.mag[i].numpy()) for i in rows_idx]
    report.plot_reconstruction_grid(rows, list(models), {k: [recon[k][i].numpy() for i in rows_idx] for k in models},
                                    out_dir / "reconstructions.png")
    figures.append(("Input vs reconstruction", "reconstructions.png"))
    if pairs:
        a, b = pairs[0]
        for name in models:
            file = f"interpolation_{name}.png"
            report.plot_interpolation_grid([r[0].numpy() for r in interp_mags[name]], ALPHAS,
                                           f"{name}: {notes.instrument[a]} → {notes.instrument[b]}, "
                                           f"pitch {int(notes.pitch[a])}", out_dir / file)
            figures.append((f"Interpolation ({name})", file))
    for name in models:
        file = f"latent_map_{name}.png"
        report.plot_latent_map(latents[name].numpy(), notes.family, f"{name} latents by instrument family",
                               out_dir / file)
        figures.append((f"Latent space ({name})", file))
    return figures


def models_in_run(run_dir: str | Path, device: str | None = None) -> dict[str, SynthModel]:
    """The CAE of a run folder plus its baselines (those present), keyed cae / pca / shallow_ae."""
    from morphsynth.training.synth_model import load_synth_model

    run_dir = Path(run_dir)
    models = {}
    main = load_synth_model(run_dir, device=device)
    models[main.kind] = main
    for kind in ("pca", "shallow_ae"):
        folder = run_dir / "baselines" / kind
        if (folder / "model.json").is_file():
            models[kind] = load_synth_model(folder, device=device)
    return models

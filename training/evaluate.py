"""Evaluation of models on held-out notes: reconstruction, pitch, interpolation, figures.

For each model (the CAE and the baselines, all :class:`SynthModel`):

* ``lsd_db`` / ``spectral_convergence``: of the decoded magnitude against the true one
  (:mod:`morphsynth.training.metrics`), mean over notes;
* ``level_diff_db`` / ``level_diff_abs_db``: energy of the decoded magnitude over the
  true one in dB (:func:`~morphsynth.training.metrics.level_difference_db`), mean signed
  and mean absolute;
* ``mel_distance``: multi-resolution log-mel distance in dB
  (:func:`~morphsynth.training.metrics.multires_log_mel_distance`) of the decoded audio
  against the audio of the TRUE magnitude, both through the same phase reconstruction
  (:func:`morphsynth.core.phase.reconstruct`, ``phase``), so the phase method's own
  error is in both and the distance measures the model;
* ``pitch_accuracy``: share of reconstructions (MIDI keys 28-94) whose f0 (CREPE through
  :mod:`morphsynth.training.pitch_accuracy`, audio from the phase reconstruction) lies within ±50
  cents of the note's sounding pitch (key plus pitch bend, fractional MIDI);
  ``source_pitch_accuracy`` is the same measure on the original notes (the ceiling the
  data allows), ``pitch_accuracy_pitched`` counts only notes whose originals are on pitch;
* note groups (``groups``): each note is ``on_grid`` (its key on the training grid
  ``--grid A-B:STEP``, every STEP-th key from A to B, and no bend), ``off_grid`` (a key
  between grid keys, no bend) or ``fractional`` (a bent note, any key). For each
  non-empty group: the metrics above, ``pitch_accuracy`` on notes whose originals are on
  pitch, ``n_pitch_errors`` and ``pitch_error_share``, the group's share of all the
  model's pitch errors. A model that only learnt the grid shows it here, where the
  overall figures average it away;
* per key (``per_key``): one row per integer key with its notes, LSD, mel distance,
  pitch accuracy and the median absolute cents error of the f0 against the sounding
  pitch; ``pitch_error.png`` plots the cents error of every judged note against its key;
* interpolation: pairs of different instruments at the same key and velocity,
  latents mixed ``(1 - alpha) z_a + alpha z_b`` for alpha 0, 0.25, 0.5, 0.75, 1 and
  decoded at the first note's pitch.
  ``interp_pitch_accuracy`` is the pitch accuracy of the 50/50 mixes;
  ``centroid_max_step_ratio`` is the largest step of the spectral centroid between
  neighbouring alphas over the mean step (1 = evenly spaced, 4 = all in one step),
  ``centroid_monotonic`` the share of pairs whose centroid moves monotonically;
* keyboard sweep (``sweep``, optional, :mod:`morphsynth.training.keyboard`): for a few
  instruments of a second dataset, one note is encoded and decoded at every key the
  instrument has, against the instrument's own note there (the CAE and PCA only).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.spectral import log_spectral_distance
from morphsynth.training.metrics import level_difference_db, multires_log_mel_distance, spectral_convergence
from morphsynth.training.pitch_accuracy import hit_rate, pitch_cents
from morphsynth.core.synth_model import SynthModel

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
# Pitch is measured only where CREPE is reliable: its bins span 31.7-2006 Hz, and
# within a few semitones of either end it mis-reads clean notes too.
PITCH_RANGE = (28, 94)
PITCH_CENTS = 50.0
GROUPS = ("on_grid", "off_grid", "fractional")
# The keys the first shipped model was trained on.
DEFAULT_GRID = "24-96:6"
# Notes per phase reconstruction and mel-distance call: bounds the STFT memory.
AUDIO_BATCH = 16


@dataclass
class EvalNotes:
    """Held-out notes: ``mag [n, 513, n_frames]`` and their labels, all ``[n]``.

    ``pitch`` float32: the sounding pitch in fractional MIDI (``key + bend_cents / 100``);
    ``key`` long: the MIDI key played; ``bend_cents`` float32: the held pitch bend.
    """

    mag: torch.Tensor
    pitch: torch.Tensor
    velocity: torch.Tensor
    instrument: list[str]
    family: list[str]
    note_str: list[str]
    key: torch.Tensor | None = None
    bend_cents: torch.Tensor | None = None

    def __post_init__(self):
        # Notes built by hand with integer pitches: the key is the pitch, unbent.
        if self.key is None:
            self.key = torch.round(torch.as_tensor(self.pitch, dtype=torch.float32)).long()
        if self.bend_cents is None:
            self.bend_cents = torch.zeros(len(self.key), dtype=torch.float32)
        self.pitch = torch.as_tensor(self.pitch, dtype=torch.float32)

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
    examples = [ds.examples[i] for i in order]
    return EvalNotes(
        mag=torch.stack([torch.as_tensor(it["mag"], dtype=torch.float32) for it in items]),
        pitch=torch.tensor([float(it["pitch"]) for it in items], dtype=torch.float32),
        velocity=torch.tensor([int(it["velocity"]) for it in items]),
        instrument=[it["instrument_str"] for it in items],
        family=[FAMILIES[it["family"]] if 0 <= it["family"] < len(FAMILIES) else str(it["family"]) for it in items],
        note_str=[it["note_str"] for it in items],
        key=torch.tensor([int(ex.pitch) for ex in examples]),
        bend_cents=torch.tensor([float(ex.bend_cents) for ex in examples], dtype=torch.float32),
    )


def parse_grid(text: str) -> list[int]:
    """``"A-B:STEP"`` → the keys ``A, A + STEP, …`` up to ``B`` (MIDI 0-127)."""
    m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*:\s*(\d+)\s*", str(text))
    if not m:
        raise MorphsynthError(f"--grid {text!r}: expected A-B:STEP, e.g. {DEFAULT_GRID}")
    lo, hi, step = (int(g) for g in m.groups())
    if not 0 <= lo <= hi <= 127 or step < 1:
        raise MorphsynthError(f"--grid {text!r}: expected 0 <= A <= B <= 127 and STEP >= 1")
    return list(range(lo, hi + 1, step))


def note_groups(notes: EvalNotes, grid_keys: Sequence[int]) -> list[str]:
    """Each note's group: ``fractional`` (bent), else ``on_grid`` or ``off_grid`` by its key."""
    grid = set(int(k) for k in grid_keys)
    return ["fractional" if float(b) != 0.0 else "on_grid" if int(k) in grid else "off_grid"
            for k, b in zip(notes.key.tolist(), notes.bend_cents.tolist())]


def pitch_note_indices(notes: EvalNotes, groups: Sequence[str], cap: int | None, seed: int = 0) -> list[int]:
    """Notes whose key lies in :data:`PITCH_RANGE`, at most ``cap`` of them (seeded).

    Under a cap the notes are drawn from the groups in turn, so a group that is rare in
    the data is still judged on as many notes as the others (or all it has).
    """
    lo, hi = PITCH_RANGE
    idx = [i for i in range(len(notes)) if lo <= int(notes.key[i]) <= hi]
    if cap is None or cap >= len(idx):
        return idx
    rng = random.Random(seed + 1)
    pools = []
    for g in GROUPS:
        members = [i for i in idx if groups[i] == g]
        rng.shuffle(members)
        pools.append(members)
    chosen: list[int] = []
    while len(chosen) < cap:
        for pool in pools:
            if pool and len(chosen) < cap:
                chosen.append(pool.pop())
    return sorted(chosen)


def reconstruct_all(model: SynthModel, notes: EvalNotes, batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """``(z [n, latent_dim], decoded magnitude [n, 513, n_frames])`` on the CPU."""
    zs, mags = [], []
    for lo in range(0, len(notes), batch_size):
        sl = slice(lo, lo + batch_size)
        z = model.encode(notes.mag[sl], notes.pitch[sl], notes.velocity[sl])
        zs.append(z.cpu())
        mags.append(model.decode(z, notes.pitch[sl], notes.velocity[sl]).cpu())
    return torch.cat(zs), torch.cat(mags)


def render_audio(mag: torch.Tensor, phase: str) -> torch.Tensor:
    """Phase reconstruction of ``mag [n, 513, n_frames]`` in batches: ``[n, n_samples]`` on the CPU."""
    from morphsynth.core.phase import reconstruct

    return torch.cat([reconstruct(mag[lo: lo + AUDIO_BATCH], method=phase).cpu()
                      for lo in range(0, mag.shape[0], AUDIO_BATCH)])


def render_and_compare(mag: torch.Tensor, ref_audio: torch.Tensor, keep: Sequence[int], phase: str,
                       sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio of ``mag [n, 513, n_frames]`` against ``ref_audio [n, n_samples]``.

    Returns ``(mel distance [n], audio of the notes in keep [len(keep), n_samples])``;
    the other notes' audio is dropped batch by batch, so memory stays that of ``keep``.
    """
    from morphsynth.core.phase import reconstruct

    keep_set = set(int(i) for i in keep)
    mel, kept = [], {}
    for lo in range(0, mag.shape[0], AUDIO_BATCH):
        audio = reconstruct(mag[lo: lo + AUDIO_BATCH], method=phase).cpu()  # [b, n_samples]
        mel.append(multires_log_mel_distance(ref_audio[lo: lo + audio.shape[0]], audio, sample_rate))
        for j in range(audio.shape[0]):
            if lo + j in keep_set:
                kept[lo + j] = audio[j]
    stacked = torch.stack([kept[int(i)] for i in keep]) if keep else mag.new_zeros(0, ref_audio.shape[-1])
    return torch.cat(mel), stacked


def on_pitch(cents):
    """Cents (a number or ``[batch]``) → bool of the same shape: within ±:data:`PITCH_CENTS`."""
    return np.abs(np.asarray(cents, dtype=np.float64)) <= PITCH_CENTS


def _finite(x) -> float | None:
    """A float for metrics.json, ``None`` for a missing, infinite or NaN value."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def summarise_notes(records: Sequence[dict]) -> dict:
    """Means over per-note records.

    Each record may hold ``lsd_db``, ``spectral_convergence``, ``mel_distance``,
    ``level_diff_db`` (floats) and ``cents`` (float, ``None`` when not judged) with
    ``source_on_pitch`` (bool: whether the original is within ±50 cents). Pitch figures
    count judged notes whose originals are on pitch: ``n_pitch_notes``,
    ``pitch_accuracy``, ``n_pitch_errors``, ``median_abs_cents`` (``None`` without any).
    """
    out: dict = {"n_notes": len(records)}
    for key in ("lsd_db", "spectral_convergence", "mel_distance", "level_diff_db"):
        values = [r[key] for r in records if r.get(key) is not None]
        if values:
            out[key] = float(np.mean(values))
            if key == "level_diff_db":
                out["level_diff_abs_db"] = float(np.mean(np.abs(values)))
    if any("cents" in r for r in records):
        cents = np.array([r["cents"] for r in records if r.get("cents") is not None and r.get("source_on_pitch")],
                         dtype=np.float64)
        hits = on_pitch(cents)
        out["n_pitch_notes"] = int(cents.size)
        out["pitch_accuracy"] = float(hits.mean()) if cents.size else None
        out["n_pitch_errors"] = int((~hits).sum())
        out["median_abs_cents"] = _finite(np.median(np.abs(cents))) if cents.size else None
    return out


def spectral_centroid_hz(mag: torch.Tensor, sample_rate: int = 16000) -> torch.Tensor:
    """Power-weighted mean frequency over the whole note: ``[batch, n_bins, n_frames]`` → ``[batch]`` Hz."""
    n_bins = mag.shape[-2]
    freqs = torch.linspace(0, sample_rate / 2, n_bins, dtype=mag.dtype, device=mag.device)
    power = mag.pow(2).sum(-1)  # [batch, n_bins]
    return (power * freqs).sum(-1) / power.sum(-1).clamp_min(1e-12)


def interpolation_pairs(notes: EvalNotes, n_pairs: int, seed: int = 0) -> list[tuple[int, int]]:
    """Up to ``n_pairs`` index pairs: different instruments, same key and velocity."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i in range(len(notes)):
        groups.setdefault((int(notes.key[i]), int(notes.velocity[i])), []).append(i)
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
             seed: int = 0, log: Callable[[str], None] = print, title: str = "Evaluation",
             grid: str = DEFAULT_GRID, sweep_data: str | Path | None = None, sweep_ref_key: int = 60,
             sweep_instruments: int | None = 8, library: str | Path | None = None,
             library_data: str | Path | None = None, library_notes: int = 24,
             library_peak_dbfs: float = -2.0) -> dict:
    """Metrics for every model on ``notes``; writes metrics.json, report.md and PNG figures to ``out_dir``.

    ``pitch_method``: ``crepe``, ``autocorrelation`` or ``none`` (skips the pitch
    metrics, which need audio and cost the most). ``pitch_notes`` caps the notes
    rendered to audio for the pitch measure (seeded subset, drawn from the note groups
    in turn). ``grid``: the training keys as ``A-B:STEP`` (see :func:`parse_grid`).
    ``sweep_data``: a dataset for the keyboard sweep (:func:`morphsynth.training.keyboard.sweep`)
    with ``sweep_ref_key`` and at most ``sweep_instruments`` instruments; ``None`` skips it.
    ``library`` with ``library_data``: also add ``library_notes`` notes of that dataset,
    peak-normalised to ``library_peak_dbfs``, to the first model's library and render them
    back (:func:`morphsynth.training.roundtrip.library_roundtrip`).
    """
    from morphsynth.training import report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not models:
        raise MorphsynthError("no models to evaluate")
    grid_keys = parse_grid(grid)
    sample_rate = next(iter(models.values())).stft.sample_rate
    do_pitch = pitch_method != "none"

    def cents_of(audio: torch.Tensor, pitches: torch.Tensor) -> np.ndarray:
        return pitch_cents(audio, pitches, sample_rate, pitch_method)

    lo, hi = PITCH_RANGE
    groups = note_groups(notes, grid_keys)
    group_idx = {g: [i for i in range(len(notes)) if groups[i] == g] for g in GROUPS}
    group_idx = {g: idx for g, idx in group_idx.items() if idx}
    pitch_idx = pitch_note_indices(notes, groups, pitch_notes, seed)
    pairs = interpolation_pairs(notes, n_pairs, seed)
    pitch_pairs = [k for k, (a, _) in enumerate(pairs) if lo <= int(notes.key[a]) <= hi]
    results: dict = {"phase": phase, "pitch_method": pitch_method, "pitch_range_midi": [lo, hi],
                     "n_pitch_notes": len(pitch_idx), "n_notes": len(notes),
                     "n_instruments": len(set(notes.instrument)), "n_pairs": len(pairs),
                     "grid": {"spec": grid, "keys": grid_keys},
                     "groups": {g: {"n_notes": len(idx)} for g, idx in group_idx.items()}}
    # The originals through the same phase reconstruction as the decoded notes: the mel
    # distance's reference, and the audio the source pitch is measured on.
    true_audio = render_audio(notes.mag, phase)
    # Notes whose original already misses its pitch (organ stops an octave up, bells,
    # phase-reconstruction artefacts) cannot show whether a model keeps the pitch, so the
    # "_pitched" accuracies count only notes (and pairs) whose originals are on pitch.
    pitched, pitched_pairs = [], []
    src_cents: dict[int, float] = {}
    if do_pitch:
        judged = sorted(set(pitch_idx) | {i for k in pitch_pairs for i in pairs[k]})
        src_cents = dict(zip(judged, cents_of(true_audio[judged], notes.pitch[judged]).tolist()))
        src_hit = {i: bool(on_pitch(c)) for i, c in src_cents.items()}
        results["source_pitch_accuracy"] = hit_rate([src_hit[i] for i in pitch_idx])
        pitched = [k for k, i in enumerate(pitch_idx) if src_hit[i]]
        pitched_pairs = [j for j, k in enumerate(pitch_pairs) if src_hit[pairs[k][0]] and src_hit[pairs[k][1]]]
        results["n_pitched_notes"], results["n_pitched_pairs"] = len(pitched), len(pitched_pairs)
        for g in group_idx:
            judged_g = [i for i in pitch_idx if groups[i] == g]
            results["groups"][g].update({
                "n_pitch_notes": len(judged_g), "n_pitched_notes": sum(src_hit[i] for i in judged_g),
                "source_pitch_accuracy": hit_rate([src_hit[i] for i in judged_g]) if judged_g else None})
        source_records = [{"key": int(notes.key[i]), "cents": src_cents[i], "source_on_pitch": True} for i in pitch_idx]
        results["source_per_key"] = per_key_rows(source_records, keep=("n_pitch_notes", "pitch_accuracy",
                                                                    "median_abs_cents"))
        log(f"source notes: pitch accuracy {results['source_pitch_accuracy']:.3f} ({len(pitch_idx)} notes)")
    recon: dict[str, torch.Tensor] = {}
    latents: dict[str, torch.Tensor] = {}
    interp_mags: dict[str, list[torch.Tensor]] = {}
    model_cents: dict[str, dict[int, float]] = {}
    for name, model in models.items():
        z, mag = reconstruct_all(model, notes)
        recon[name], latents[name] = mag, z
        lsd = log_spectral_distance(notes.mag, mag)
        sc = spectral_convergence(notes.mag, mag)
        level = level_difference_db(notes.mag, mag)
        mel, audio = render_and_compare(mag, true_audio, pitch_idx if do_pitch else [], phase, sample_rate)
        m = {"kind": model.kind, "latent_dim": model.latent_dim, "model_hash": model.model_hash,
             "lsd_db": float(lsd.mean()), "lsd_db_median": float(lsd.median()),
             "spectral_convergence": float(sc.mean()), "n_notes": len(notes),
             "mel_distance": float(mel.mean()), "level_diff_db": float(level.mean()),
             "level_diff_abs_db": float(level.abs().mean())}
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
        cents_by_note: dict[int, float] = {}
        if do_pitch:
            c = cents_of(audio, notes.pitch[pitch_idx])
            cents_by_note = dict(zip(pitch_idx, c.tolist()))
            h = on_pitch(c)
            m["pitch_accuracy"], m["pitch_accuracy_pitched"] = hit_rate(h), hit_rate(h[pitched])
            if pitch_pairs:
                sel = torch.tensor(pitch_pairs)
                h = on_pitch(cents_of(render_audio(interp_mags[name][2][sel], phase), notes.pitch[ia][sel]))
                m["interp_pitch_accuracy"] = hit_rate(h)
                m["interp_pitch_accuracy_pitched"] = hit_rate(h[pitched_pairs])
        model_cents[name] = cents_by_note
        records = []
        for i in range(len(notes)):
            r = {"key": int(notes.key[i]), "lsd_db": float(lsd[i]), "spectral_convergence": float(sc[i]),
                 "mel_distance": float(mel[i]), "level_diff_db": float(level[i])}
            if i in cents_by_note:
                r["cents"], r["source_on_pitch"] = cents_by_note[i], bool(on_pitch(src_cents[i]))
            elif do_pitch:
                r["cents"] = None
            records.append(r)
        m["groups"] = {g: summarise_notes([records[i] for i in idx]) for g, idx in group_idx.items()}
        if do_pitch:
            total_errors = sum(gm["n_pitch_errors"] for gm in m["groups"].values())
            for gm in m["groups"].values():
                gm["pitch_error_share"] = gm["n_pitch_errors"] / total_errors if total_errors else None
        m["per_key"] = per_key_rows(records)
        results[name] = m
        log(f"{name}: LSD {m['lsd_db']:.2f} dB  SC {m['spectral_convergence']:.3f}  mel {m['mel_distance']:.2f} dB"
            + (f"  pitch {m['pitch_accuracy']:.3f}" if "pitch_accuracy" in m else "")
            + (f"  interp pitch {m['interp_pitch_accuracy']:.3f}" if "interp_pitch_accuracy" in m else "")
            + "".join(f"  {g} {gm['lsd_db']:.2f}" for g, gm in m["groups"].items()))

    sweep_result = None
    if sweep_data is not None:
        from morphsynth.training.keyboard import sweep, sweep_models

        chosen = sweep_models(models)
        if chosen:
            sweep_result = sweep(chosen, sweep_data, ref_key=sweep_ref_key, max_instruments=sweep_instruments,
                                 phase=phase, pitch_method=pitch_method, seed=seed, log=log)
            results["sweep"] = sweep_result.summary
        else:
            log("sweep: no CAE or PCA model among the models; skipped")

    if library is not None and library_data is not None and library_notes > 0:
        from morphsynth.training.roundtrip import library_roundtrip

        first = next(iter(models.values()))
        results["library_add"] = library_roundtrip(first, library, library_data, n_notes=library_notes,
                                                   peak_dbfs=library_peak_dbfs, seed=seed, phase=phase,
                                                   pitch_method=pitch_method if do_pitch else "autocorrelation")
        la = results["library_add"]
        log(f"library add: level {la['level_diff_db']:+.2f} dB (|Δ| {la['level_diff_abs_db']:.2f}, "
            f"{la['within_2db']:.2f} within ±2 dB), LSD {la['lsd_db']:.2f} dB over {la['n_notes']} notes")

    (out_dir / "metrics.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    figures = _figures(models, notes, recon, latents, interp_mags, pairs, out_dir, seed)
    if do_pitch and pitch_idx:
        series = {"originals": [(int(notes.key[i]), src_cents[i]) for i in pitch_idx]}
        series.update({name: [(int(notes.key[i]), c) for i, c in model_cents[name].items()] for name in models})
        report.plot_pitch_error(series, "cents error of each judged note (f0 against the sounding pitch)",
                                out_dir / "pitch_error.png", grid_keys=grid_keys)
        figures.append(("Pitch error by key", "pitch_error.png"))
    if sweep_result is not None:
        file = "sweep_pitch_error.png"
        sweep_result.plot(out_dir / file)
        figures.append(("Keyboard sweep: error by key", file))
        sweep_result.write_csv(out_dir / "sweep.csv")
    names = list(models)
    notes_md = [
        f"{len(notes)} held-out notes from {results['n_instruments']} instruments; {len(pairs)} interpolation pairs "
        f"(different instruments, same key and velocity).",
        f"Pitch: {pitch_method} f0 within ±50 cents of the sounding pitch (key plus bend) on notes of keys "
        f"{lo}-{hi} (CREPE's reliable range), audio by phase reconstruction '{phase}'"
        + (f"; the original notes score {results['source_pitch_accuracy']:.3f}. \"On-pitch\" columns count only the "
           f"{len(pitched)} notes and {len(pitched_pairs)} pairs whose originals are within ±50 cents."
           if do_pitch else " (skipped)."),
        "LSD, SC and level Δ compare decoded and true magnitudes (no phase involved); level Δ is the decoded note's "
        "energy over the true one's in dB (mean signed / mean absolute).",
        "Mel: multi-resolution log-mel distance in dB (STFT sizes 2048/1024/512/256 with 128/96/64/32 mel bands, "
        "floored 80 dB below the reference's peak) of the decoded audio against the TRUE magnitude's audio, both "
        f"through phase reconstruction '{phase}', so it measures the model and not the phase method.",
        "Centroid jump: largest step of the spectral centroid between neighbouring alphas over the mean step "
        "(1 = even steps).",
    ]
    sections = [("Note groups", report.groups_section(results, names, grid, grid_keys))]
    sections.append(("Per key", report.per_key_table(results, names)))
    if sweep_result is not None:
        sections.append(("Keyboard sweep", report.sweep_section(results["sweep"])))
    if "library_add" in results:
        from morphsynth.training.roundtrip import roundtrip_section

        sections.append(("Library add and back", roundtrip_section(results["library_add"])))
    report.write_report(out_dir / "report.md", title, results, names, notes_md, figures, sections)
    return results


def per_key_rows(records: Sequence[dict], keep: Sequence[str] | None = None) -> list[dict]:
    """One :func:`summarise_notes` row per integer ``key`` of the records, ascending."""
    by_key: dict[int, list[dict]] = {}
    for r in records:
        by_key.setdefault(int(r["key"]), []).append(r)
    rows = []
    for key in sorted(by_key):
        s = summarise_notes(by_key[key])
        if keep is not None:
            s = {k: s[k] for k in ("n_notes", *keep) if k in s}
        rows.append({"key": key, **s})
    return rows


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
                                           f"pitch {float(notes.pitch[a]):g}", out_dir / file)
            figures.append((f"Interpolation ({name})", file))
    for name in models:
        file = f"latent_map_{name}.png"
        report.plot_latent_map(latents[name].numpy(), notes.family, f"{name} latents by instrument family",
                               out_dir / file)
        figures.append((f"Latent space ({name})", file))
    return figures


def models_in_run(run_dir: str | Path, device: str | None = None) -> dict[str, SynthModel]:
    """The CAE of a run folder plus its baselines (those present), keyed cae / pca / shallow_ae."""
    from morphsynth.core.synth_model import load_synth_model

    run_dir = Path(run_dir)
    models = {}
    main = load_synth_model(run_dir, device=device)
    models[main.kind] = main
    for kind in ("pca", "shallow_ae"):
        folder = run_dir / "baselines" / kind
        if (folder / "model.json").is_file():
            models[kind] = load_synth_model(folder, device=device)
    return models

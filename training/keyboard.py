"""Keyboard sweep: one note of an instrument decoded at every key, against the instrument's own notes.

For each instrument of a sweep dataset (NSynth layout, typically every key of a few
SoundFont programs at one velocity), the note nearest ``ref_key`` is encoded ONCE and
its latent decoded at every key the instrument has at that velocity (its sounding pitch,
so a bent note is decoded bent). Each decoded note is compared with the instrument's real
note at that key:

* ``lsd_db``, ``level_diff_db`` (decoded over true energy in dB) on magnitudes;
* ``mel_distance``: multi-resolution log-mel distance of the decoded audio against the
  true magnitude's audio, both through the same phase reconstruction;
* ``cents``: f0 of the decoded audio against the sounding pitch, on keys within
  :data:`~morphsynth.training.evaluate.PITCH_RANGE`; ``pitch_accuracy`` counts only keys
  whose original is itself within ±50 cents.

A model that codes pitch apart from timbre keeps the pitch and the spectra close all
along the keyboard; one that memorised the notes it saw drifts away from ``ref_key``.
PCA ignores pitch altogether, so it is right only at the reference key: the floor
against which the CAE's sweep reads. Only models of kind ``cae`` and ``pca`` are swept.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.training.evaluate import (PITCH_RANGE, on_pitch, per_key_rows, render_and_compare,
                                          render_audio, summarise_notes)
from morphsynth.core.spectral import log_spectral_distance
from morphsynth.training.metrics import level_difference_db
from morphsynth.training.pitch_accuracy import pitch_cents
from morphsynth.core.synth_model import SynthModel

SWEEP_KINDS = ("cae", "pca")
SOURCE = "originals"


@dataclass
class SweepInstrument:
    """One swept instrument: dataset ``indices`` in ascending key at ``velocity``; ``ref`` is the encoded one."""

    name: str
    velocity: int
    indices: list[int]
    keys: list[int]
    ref: int
    ref_key: int


@dataclass
class SweepResult:
    """``summary`` for metrics.json; ``rows`` one per (series, instrument, key), series a model name or
    ``originals``; ``ref_keys`` the encoded key of each instrument."""

    summary: dict
    rows: list[dict]
    ref_keys: dict[str, int] = field(default_factory=dict)

    def plot(self, path: str | Path) -> None:
        from morphsynth.training import report

        report.plot_sweep(self.rows, [k for k in self.summary["models"]], sorted(set(self.ref_keys.values())), path)

    def write_csv(self, path: str | Path) -> None:
        """One line per row: series, instrument, key, pitch, lsd_db, mel_distance, level_diff_db, cents, source_on_pitch."""
        cols = ["series", "instrument", "key", "pitch", "lsd_db", "mel_distance", "level_diff_db", "cents",
                "source_on_pitch"]
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for r in self.rows:
                w.writerow(["" if r.get(c) is None else (f"{r[c]:.4f}" if isinstance(r[c], float) else r[c])
                            for c in cols])


def sweep_models(models: dict[str, SynthModel]) -> dict[str, SynthModel]:
    """The models a sweep runs on: those of kind ``cae`` or ``pca``."""
    return {name: m for name, m in models.items() if m.kind in SWEEP_KINDS}


def plan_sweep(examples, ref_key: int = 60, max_instruments: int | None = 8, seed: int = 0) -> list[SweepInstrument]:
    """Instruments to sweep from a dataset's ``examples`` (:class:`~morphsynth.training.nsynth.Example`).

    Per instrument: its most common velocity (ties: the one nearest 100), one note per
    key at it, and the note whose key is nearest ``ref_key`` (ties: the lower key). Past
    ``max_instruments`` a seeded subset of the sorted names is kept.
    """
    by_inst: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        by_inst.setdefault(ex.instrument_str, []).append(i)
    names = sorted(by_inst)
    if max_instruments is not None and len(names) > max_instruments:
        names = sorted(random.Random(seed).sample(names, max_instruments))
    plan = []
    for name in names:
        idx = by_inst[name]
        counts = Counter(examples[i].velocity for i in idx)
        velocity = min(counts, key=lambda v: (-counts[v], abs(v - 100), v))
        at_key: dict[int, int] = {}
        for i in idx:
            if examples[i].velocity == velocity:
                at_key.setdefault(int(examples[i].pitch), i)
        keys = sorted(at_key)
        nearest = min(keys, key=lambda k: (abs(k - ref_key), k))
        plan.append(SweepInstrument(name, velocity, [at_key[k] for k in keys], keys, at_key[nearest], nearest))
    return plan


def sweep(models: dict[str, SynthModel], data: str | Path, *, ref_key: int = 60, max_instruments: int | None = 8,
          phase: str = "fast", pitch_method: str = "crepe", seed: int = 0, decode_batch: int = 16,
          log: Callable[[str], None] = print) -> SweepResult:
    """Sweep every model of ``models`` over the instruments of ``data`` (a dataset root, all its
    splits, or one split folder); see the module notes. ``pitch_method`` ``none`` skips the
    pitch measure."""
    from morphsynth.training.nsynth import NSynthDataset

    if not models:
        raise MorphsynthError("sweep: no models")
    if not 0 <= ref_key <= 127:
        raise MorphsynthError(f"--sweep-ref-key {ref_key}: expected a MIDI key 0-127")
    if max_instruments is not None and max_instruments < 1:
        raise MorphsynthError(f"--sweep-instruments {max_instruments}: expected at least 1")
    ds = NSynthDataset(data, None)
    if not ds.examples:
        raise MorphsynthError(f"{data}: no notes to sweep")
    plan = plan_sweep(ds.examples, ref_key, max_instruments, seed)
    sample_rate = next(iter(models.values())).stft.sample_rate
    do_pitch = pitch_method != "none"
    lo, hi = PITCH_RANGE
    rows: list[dict] = []
    for inst in plan:
        items = [ds[i] for i in inst.indices]
        mag = torch.stack([torch.as_tensor(it["mag"], dtype=torch.float32) for it in items])  # [k, 513, n_frames]
        pitch = torch.tensor([float(it["pitch"]) for it in items], dtype=torch.float32)
        velocity = torch.full((len(items),), inst.velocity, dtype=torch.long)
        r = inst.indices.index(inst.ref)
        judged = [j for j, k in enumerate(inst.keys) if lo <= k <= hi] if do_pitch else []
        true_audio = render_audio(mag, phase)
        src_cents = dict(zip(judged, pitch_cents(true_audio[judged], pitch[judged], sample_rate,
                                                  pitch_method).tolist())) if judged else {}
        src_hit = {j: bool(on_pitch(c)) for j, c in src_cents.items()}
        for j, key in enumerate(inst.keys):
            rows.append({"series": SOURCE, "instrument": inst.name, "key": key, "pitch": float(pitch[j]),
                         **({"cents": src_cents.get(j), "source_on_pitch": True} if do_pitch else {})})
        for name, model in models.items():
            z = model.encode(mag[r: r + 1], pitch[r: r + 1], velocity[r: r + 1])  # [1, latent_dim]
            dec = torch.cat([model.decode(z.expand(len(pitch[s: s + decode_batch]), -1), pitch[s: s + decode_batch],
                                          velocity[s: s + decode_batch]).cpu()
                             for s in range(0, len(items), decode_batch)])  # [k, 513, n_frames]
            lsd = log_spectral_distance(mag, dec)
            level = level_difference_db(mag, dec)
            mel, audio = render_and_compare(dec, true_audio, judged, phase, sample_rate)
            cents = dict(zip(judged, pitch_cents(audio, pitch[judged], sample_rate, pitch_method).tolist())) \
                if judged else {}
            for j, key in enumerate(inst.keys):
                row = {"series": name, "instrument": inst.name, "key": key, "pitch": float(pitch[j]),
                       "ref": j == r, "lsd_db": float(lsd[j]), "mel_distance": float(mel[j]),
                       "level_diff_db": float(level[j])}
                if do_pitch:
                    row["cents"] = cents.get(j)
                    row["source_on_pitch"] = src_hit.get(j, False)
                rows.append(row)
        log(f"sweep {inst.name}: {len(inst.keys)} keys {inst.keys[0]}-{inst.keys[-1]} from key {inst.ref_key}, "
            f"velocity {inst.velocity}")
    summary = summarise_sweep(rows, list(models), plan, str(data), ref_key, phase, pitch_method)
    for name in models:
        o = summary[name]["overall"]
        log(f"sweep {name}: LSD {o['lsd_db']:.2f} dB  mel {o['mel_distance']:.2f} dB"
            + (f"  pitch {o['pitch_accuracy']:.3f}" if o.get("pitch_accuracy") is not None else ""))
    return SweepResult(summary, rows, {inst.name: inst.ref_key for inst in plan})


def summarise_sweep(rows: list[dict], names: list[str], plan: list[SweepInstrument], data: str, ref_key: int,
                    phase: str, pitch_method: str) -> dict:
    """metrics.json's ``sweep``: the set-up, the originals' pitch, and per model ``overall``,
    ``transposed`` (every key but the encoded one) and ``per_key`` (one row per key)."""
    source = [r for r in rows if r["series"] == SOURCE]
    summary: dict = {
        "data": data, "ref_key": ref_key, "phase": phase, "pitch_method": pitch_method,
        "pitch_range_midi": list(PITCH_RANGE), "models": names, "n_instruments": len(plan),
        "n_notes": len(source),
        "instruments": [{"name": p.name, "velocity": p.velocity, "ref_key": p.ref_key, "n_keys": len(p.keys),
                         "keys": [p.keys[0], p.keys[-1]]} for p in plan],
    }
    if pitch_method != "none":
        s = summarise_notes(source)
        summary["source_pitch_accuracy"] = s["pitch_accuracy"]
        summary["n_pitch_notes"] = s["n_pitch_notes"]
        summary["source_per_key"] = per_key_rows(source, keep=("n_pitch_notes", "pitch_accuracy", "median_abs_cents"))
    for name in names:
        mine = [r for r in rows if r["series"] == name]
        summary[name] = {"overall": summarise_notes(mine),
                         "transposed": summarise_notes([r for r in mine if not r["ref"]]),
                         "per_key": per_key_rows(mine)}
    return summary

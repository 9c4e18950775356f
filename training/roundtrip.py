"""``library add`` and back: does a user's note come back as it went in?

For held-out notes of a dataset (unbent, one per instrument where possible), each file is
scaled to a fixed peak (``peak_dbfs``, e.g. -2 dBFS: a sample as a user would export it,
far louder than the SoundFont renders the model trained on), added to a copy of the
library with :meth:`morphsynth.server.library.Library.add_note` at its own key and
velocity, and rendered back through :class:`morphsynth.server.renderer.Renderer` (the
server's own path: latent lookup, decode, level gain, phase, loop levelling) at that key
and velocity. Compared with the file as added (both 4 s at the model rate):

* ``level_diff_db``: RMS level of the render minus that of the file (mean, and mean
  absolute, and the share of notes within ±2 dB);
* ``lsd_db``: LSD between the STFT magnitudes of the render and of the file;
* ``pitch_accuracy``: share of renders within ±50 cents of the key, on notes whose file is.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.spectral import log_spectral_distance


def rms_db(audio: np.ndarray) -> float:
    """RMS level of ``[n_samples]`` audio in dBFS (-200 for silence)."""
    return float(10.0 * np.log10(max(float(np.mean(np.square(audio, dtype=np.float64))), 1e-20)))


def pick_notes(examples, n_notes: int, seed: int = 0) -> list:
    """Up to ``n_notes`` unbent examples, at most one per instrument first, seeded."""
    pool = [ex for ex in examples if not ex.bend_cents]
    random.Random(seed).shuffle(pool)
    chosen, seen = [], set()
    for ex in pool:
        if ex.instrument_str not in seen:
            seen.add(ex.instrument_str)
            chosen.append(ex)
    chosen += [ex for ex in pool if ex not in chosen]
    return chosen[:n_notes]


def library_roundtrip(model, library_path: str | Path, data: str | Path, *, n_notes: int = 24,
                      peak_dbfs: float = -2.0, seed: int = 0, phase: str = "fast",
                      pitch_method: str = "crepe") -> dict:
    """Add ``n_notes`` held-out notes of ``data`` to the library and render them back (see the module doc).

    Returns ``{"n_notes", "peak_dbfs", "level_diff_db", "level_diff_abs_db", "within_2db",
    "lsd_db", "pitch_accuracy", "n_pitched", "rows": [...]}``.
    """
    from morphsynth.server.library import Library
    from morphsynth.server.morph import Morph
    from morphsynth.server.renderer import Renderer
    from morphsynth.training.nsynth import EXAMPLES_JSON, list_examples, split_dir
    from morphsynth.training.pitch_accuracy import pitch_hits
    from morphsynth.core.spectral import magnitude

    data = Path(data)
    # A root's test split, as the eval reads it; a root without one gives every split it has.
    split = "test" if (split_dir(data, "test") / EXAMPLES_JSON).is_file() else None
    examples = pick_notes(list_examples(data, split), n_notes, seed)
    if not examples:
        raise MorphsynthError(f"{data}: no unbent notes to add to the library")
    library = Library.load(library_path, model)
    n_samples = model.stft.n_samples(model.n_frames)
    files, names = [], []
    for i, ex in enumerate(examples):
        audio = ex.load_audio(n_samples)
        audio = audio * np.float32(10.0 ** (peak_dbfs / 20.0) / max(float(np.abs(audio).max()), 1e-9))
        name = f"added{i:03d}"
        library.add_note(model, audio, name, ex.pitch, ex.velocity)
        files.append(audio)
        names.append(name)
    sr = model.stft.sample_rate
    with Renderer(model, library, out_rate=sr, phase=phase, cache_mb=64, prerender_all=False) as renderer:
        back = [renderer.render(Morph((name,), (1.0,)), ex.pitch, ex.velocity)[:n_samples]
                for name, ex in zip(names, examples)]
    back = [np.pad(b, (0, n_samples - b.shape[0])) for b in back]
    ref = magnitude(torch.from_numpy(np.stack(files)), model.stft.n_fft, model.stft.hop)
    est = magnitude(torch.from_numpy(np.stack(back)), model.stft.n_fft, model.stft.hop)
    lsd = log_spectral_distance(ref, est)
    diffs = np.array([rms_db(b) - rms_db(f) for b, f in zip(back, files)])
    keys = [ex.pitch for ex in examples]
    on_pitch = pitch_hits(np.stack(files), keys, sr, method=pitch_method)
    hits = pitch_hits(np.stack(back), keys, sr, method=pitch_method)
    rows = [{"note_str": ex.note_str, "key": ex.pitch, "velocity": ex.velocity, "level_diff_db": round(float(d), 3),
             "lsd_db": round(float(l), 3), "source_on_pitch": bool(o), "on_pitch": bool(h)}
            for ex, d, l, o, h in zip(examples, diffs, lsd.tolist(), on_pitch, hits)]
    return {
        "n_notes": len(examples), "peak_dbfs": peak_dbfs, "data": str(data),
        "level_diff_db": float(diffs.mean()), "level_diff_abs_db": float(np.abs(diffs).mean()),
        "within_2db": float((np.abs(diffs) <= 2.0).mean()), "lsd_db": float(lsd.mean()),
        "n_pitched": int(on_pitch.sum()),
        "pitch_accuracy": float(hits[on_pitch].mean()) if on_pitch.any() else 0.0,
        "rows": rows,
    }


def roundtrip_section(summary: dict) -> str:
    """Markdown for report.md."""
    lines = [
        f"{summary['n_notes']} held-out notes of `{summary['data']}`, each peak-normalised to "
        f"{summary['peak_dbfs']:g} dBFS, added with `library add` at its own key and velocity and rendered "
        f"back through the server's renderer at that key and velocity.",
        "",
        "| level Δ dB (mean) | level Δ dB (mean abs) | within ±2 dB | LSD dB | pitch acc (on-pitch files) |",
        "|---|---|---|---|---|",
        f"| {summary['level_diff_db']:+.2f} | {summary['level_diff_abs_db']:.2f} | {summary['within_2db']:.3f} | "
        f"{summary['lsd_db']:.2f} | {summary['pitch_accuracy']:.3f} ({summary['n_pitched']}) |",
    ]
    return "\n".join(lines)

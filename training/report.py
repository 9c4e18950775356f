"""Figures and the markdown report of a training run or an evaluation.

Matplotlib with the non-interactive Agg backend, imported inside each function so
that importing this module stays cheap.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loss_curves(history: list[dict], path: str | Path) -> None:
    """Train and validation loss per epoch, and validation LSD, as one PNG."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [h["epoch"] for h in history]
    for key, style in (("train/total", "-"), ("valid/total", "--")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax1.plot(epochs, values, style, label=key)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("weighted loss")
    ax1.set_yscale("log")
    ax1.legend()
    ax1.grid(alpha=0.3)
    lsd = [h.get("valid/lsd_db") for h in history]
    ax2.plot(epochs, lsd, color="C2")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation LSD (dB)")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _db(mag: np.ndarray, peak: float) -> np.ndarray:
    return 20 * np.log10(np.maximum(mag, 1e-12) / max(peak, 1e-12)).clip(-80, 0)


def plot_reconstruction_grid(rows: Sequence[tuple[str, np.ndarray]], columns: Sequence[str],
                             recon: dict[str, Sequence[np.ndarray]], path: str | Path) -> None:
    """Input vs reconstructions.

    rows: ``(label, input magnitude [513, n_frames])`` per note; ``recon[column][i]``
    is the reconstruction of row ``i`` by model ``column``. dB below each input's peak.
    """
    plt = _plt()
    cols = ["input"] + list(columns)
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.4 * len(cols), 1.9 * len(rows)), squeeze=False)
    for i, (label, mag) in enumerate(rows):
        peak = float(mag.max())
        for j, col in enumerate(cols):
            img = mag if col == "input" else recon[col][i]
            ax = axes[i, j]
            ax.imshow(_db(img, peak), origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(col, fontsize=9)
            if j == 0:
                # NSynth-style names are longer than a row is high: wrap them.
                ax.set_ylabel("\n".join(textwrap.wrap(label.replace("_", " "), 22)), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_interpolation_grid(mags: Sequence[np.ndarray], alphas: Sequence[float], title: str, path: str | Path) -> None:
    """One row of decoded magnitudes ``[513, n_frames]`` along the mixing weight ``alphas``."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(mags), figsize=(2.4 * len(mags), 2.4), squeeze=False)
    peak = max(float(m.max()) for m in mags)
    for j, (mag, a) in enumerate(zip(mags, alphas)):
        ax = axes[0, j]
        ax.imshow(_db(mag, peak), origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0)
        ax.set_title(f"alpha = {a:g}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_latent_map(z: np.ndarray, labels: Sequence[str], title: str, path: str | Path) -> None:
    """Latents ``[n, latent_dim]`` projected on their first two principal axes, coloured by label."""
    plt = _plt()
    zc = z - z.mean(0, keepdims=True)
    if zc.shape[1] >= 2:
        _, _, vt = np.linalg.svd(zc, full_matrices=False)
        xy = zc @ vt[:2].T
    else:
        xy = np.concatenate([zc, np.zeros_like(zc)], axis=1)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    names = sorted(set(labels))
    cmap = plt.get_cmap("tab20", max(len(names), 1))
    for k, name in enumerate(names):
        sel = np.array([l == name for l in labels])
        ax.scatter(xy[sel, 0], xy[sel, 1], s=10, color=cmap(k), label=name)
    ax.set_xlabel("PC 1 of the latent")
    ax.set_ylabel("PC 2 of the latent")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, markerscale=1.5, loc="best", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(v, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def metrics_table(metrics: dict, models: Sequence[str]) -> str:
    """Markdown table of the per-model metrics."""
    lines = ["| model | latent | LSD dB | SC | mel dB | level Δ dB | pitch acc | on-pitch originals | "
             "interp pitch acc | on-pitch pairs | centroid jump | notes |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in models:
        m = metrics.get(name)
        if not m:
            continue

        def f(key, fmt):
            return _fmt(m.get(key), fmt)

        lines.append(f"| {name} | {m.get('latent_dim', '–')} | {f('lsd_db', '.2f')} | {f('spectral_convergence', '.3f')} | "
                     f"{f('mel_distance', '.2f')} | {f('level_diff_db', '+.2f')} | "
                     f"{f('pitch_accuracy', '.3f')} | {f('pitch_accuracy_pitched', '.3f')} | "
                     f"{f('interp_pitch_accuracy', '.3f')} | {f('interp_pitch_accuracy_pitched', '.3f')} | "
                     f"{f('centroid_max_step_ratio', '.2f')} | {m.get('n_notes', '–')} |")
    return "\n".join(lines)


GROUP_LABELS = {"on_grid": "on grid", "off_grid": "off grid", "fractional": "fractional"}


def groups_section(metrics: dict, models: Sequence[str], grid: str, grid_keys: Sequence[int]) -> str:
    """Markdown: how the notes split into on-grid, off-grid and fractional, and a table per model and group."""
    counts = metrics.get("groups", {})
    desc = ", ".join(f"{GROUP_LABELS[g]} {c['n_notes']}" for g, c in counts.items())
    src = ", ".join(f"{GROUP_LABELS[g]} {_fmt(c.get('source_pitch_accuracy'), '.3f')}" for g, c in counts.items()
                    if "source_pitch_accuracy" in c)
    lines = [f"Training grid `{grid}` (keys {', '.join(str(k) for k in grid_keys)}). On grid: a grid key played "
             f"without bend; off grid: another key, no bend; fractional: a bent note (sounding between keys). "
             f"Notes: {desc}." + (f" Originals' pitch accuracy: {src}." if src else ""),
             "",
             "| model | group | notes | LSD dB | SC | mel dB | level Δ dB (signed / abs) | pitch acc | judged | "
             "share of pitch errors |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in models:
        for g, gm in metrics.get(name, {}).get("groups", {}).items():
            lines.append(f"| {name} | {GROUP_LABELS.get(g, g)} | {gm['n_notes']} | {_fmt(gm.get('lsd_db'), '.2f')} | "
                         f"{_fmt(gm.get('spectral_convergence'), '.3f')} | {_fmt(gm.get('mel_distance'), '.2f')} | "
                         f"{_fmt(gm.get('level_diff_db'), '+.2f')} / {_fmt(gm.get('level_diff_abs_db'), '.2f')} | "
                         f"{_fmt(gm.get('pitch_accuracy'), '.3f')} | {gm.get('n_pitch_notes', '–')} | "
                         f"{_fmt(gm.get('pitch_error_share'), '.2f')} |")
    lines += ["", "Pitch accuracy counts judged notes whose originals are within ±50 cents; the share of pitch "
                  "errors is the group's part of all that model's errors on such notes."]
    return "\n".join(lines)


def _key_cell(row: dict | None) -> str:
    if not row:
        return "–"
    return (f"{_fmt(row.get('lsd_db'), '.2f')} · {_fmt(row.get('pitch_accuracy'), '.2f')} · "
            f"{_fmt(row.get('median_abs_cents'), '.0f')}")


def per_key_table(metrics: dict, models: Sequence[str], source_key: str = "source_per_key") -> str:
    """Markdown: one row per key, each model's cell ``LSD dB · pitch acc · median |cents|``."""
    keys = sorted({r["key"] for name in models for r in metrics.get(name, {}).get("per_key", [])})
    src = {r["key"]: r for r in metrics.get(source_key, [])}
    by_model = {name: {r["key"]: r for r in metrics.get(name, {}).get("per_key", [])} for name in models}
    lines = ["Each model's cell: LSD dB · pitch accuracy (on-pitch originals) · median |cents| of the f0 against "
             "the sounding pitch; originals: pitch accuracy · median |cents|.", "",
             "| key | notes | originals | " + " | ".join(models) + " |",
             "|---|---|---|" + "---|" * len(models)]
    for key in keys:
        n = next((by_model[m][key]["n_notes"] for m in models if key in by_model[m]), "–")
        s = src.get(key)
        s_cell = f"{_fmt(s.get('pitch_accuracy'), '.2f')} · {_fmt(s.get('median_abs_cents'), '.0f')}" if s else "–"
        lines.append(f"| {key} | {n} | {s_cell} | " + " | ".join(_key_cell(by_model[m].get(key)) for m in models)
                     + " |")
    return "\n".join(lines)


def sweep_section(sweep: dict) -> str:
    """Markdown for metrics.json's ``sweep``: set-up, an overall table per model and the per-key table."""
    models = sweep["models"]
    insts = "; ".join(f"{i['name']} (keys {i['keys'][0]}-{i['keys'][1]}, velocity {i['velocity']}, "
                      f"from key {i['ref_key']})" for i in sweep["instruments"])
    n = sweep["n_instruments"]
    lines = [f"{n} instrument{'s' if n != 1 else ''} of `{sweep['data']}`, {sweep['n_notes']} notes: for each, the note "
             f"nearest key {sweep['ref_key']} is encoded once and decoded at every key the instrument has, against "
             f"its own note there. {insts}.",
             ""]
    if sweep.get("source_pitch_accuracy") is not None:
        lines += [f"Originals' pitch accuracy: {sweep['source_pitch_accuracy']:.3f} on {sweep['n_pitch_notes']} keys "
                  f"in MIDI {sweep['pitch_range_midi'][0]}-{sweep['pitch_range_midi'][1]}.", ""]
    lines += ["| model | notes | LSD dB | mel dB | level Δ dB (signed / abs) | pitch acc | judged | median abs cents | "
              "LSD dB away from the encoded key |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name in models:
        o, t = sweep[name]["overall"], sweep[name]["transposed"]
        lines.append(f"| {name} | {o['n_notes']} | {_fmt(o.get('lsd_db'), '.2f')} | {_fmt(o.get('mel_distance'), '.2f')} | "
                     f"{_fmt(o.get('level_diff_db'), '+.2f')} / {_fmt(o.get('level_diff_abs_db'), '.2f')} | "
                     f"{_fmt(o.get('pitch_accuracy'), '.3f')} | {o.get('n_pitch_notes', '–')} | "
                     f"{_fmt(o.get('median_abs_cents'), '.0f')} | {_fmt(t.get('lsd_db'), '.2f')} |")
    lines += ["", per_key_table(sweep, models)]
    return "\n".join(lines)


CENTS_CLIP = 2400.0


def _clipped_cents(values) -> np.ndarray:
    """Cents for a plot: ±inf (no f0) and beyond two octaves drawn at the edge."""
    c = np.array([np.inf if v is None else v for v in values], dtype=np.float64)
    return np.clip(np.nan_to_num(c, posinf=CENTS_CLIP, neginf=-CENTS_CLIP), -CENTS_CLIP, CENTS_CLIP)


def plot_pitch_error(series: dict[str, Sequence[tuple[float, float]]], title: str, path: str | Path,
                     grid_keys: Sequence[int] = ()) -> None:
    """Cents error against key: ``series[name]`` is ``(key, cents)`` per judged note (cents ±inf: no f0).

    Symmetric-log y axis (linear within ±100 cents), the ±50 cent band shaded, grid keys
    as faint vertical lines; series side by side within each key.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.axhspan(-50, 50, color="C2", alpha=0.15, label="±50 cents")
    all_keys = [p[0] for pts in series.values() for p in pts]
    for k in grid_keys:
        if all_keys and min(all_keys) - 1 <= k <= max(all_keys) + 1:
            ax.axvline(k, color="0.7", lw=0.8, zorder=0)
    names = list(series)
    width = 0.6 / max(len(names), 1)
    for j, name in enumerate(names):
        pts = series[name]
        if not pts:
            continue
        x = np.array([p[0] for p in pts], dtype=np.float64) + (j - (len(names) - 1) / 2) * width
        y = _clipped_cents([p[1] for p in pts])
        ax.scatter(x, y, s=12, marker="s" if name == "originals" else "o", color="0.3" if name == "originals" else None,
                   label=name, alpha=0.8)
    ax.set_yscale("symlog", linthresh=100)
    ax.set_ylim(-CENTS_CLIP * 1.1, CENTS_CLIP * 1.1)
    ax.axhline(0, color="0.5", lw=0.6)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("MIDI key (faint lines: training grid)")
    ax.set_ylabel("cents (f0 − sounding pitch)")
    ax.set_title(title + f"; beyond ±{CENTS_CLIP:.0f} or no f0 drawn at the edge", fontsize=8)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_sweep(rows: Sequence[dict], models: Sequence[str], ref_keys: Sequence[int], path: str | Path) -> None:
    """Keyboard sweep: cents error (top) and LSD (bottom) against key.

    rows: one dict per (series, instrument, key) with ``series`` (a model or ``originals``),
    ``key``, ``cents`` (``None`` when not judged) and, for models, ``lsd_db``. Points per
    instrument, a line through the median per key; the encoded keys as dashed lines.
    """
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    ax1.axhspan(-50, 50, color="C2", alpha=0.15, label="±50 cents")
    for j, name in enumerate(["originals", *models]):
        mine = [r for r in rows if r["series"] == name]
        color = "0.3" if name == "originals" else f"C{j - 1}"
        judged = [r for r in mine if r.get("cents") is not None]
        if judged:
            x = np.array([r["key"] for r in judged], dtype=np.float64)
            y = _clipped_cents([r["cents"] for r in judged])
            ax1.scatter(x, y, s=8, color=color, alpha=0.5, marker="s" if name == "originals" else "o")
            keys = sorted(set(x.tolist()))
            ax1.plot(keys, [np.median(y[x == k]) for k in keys], color=color, lw=1.2, label=f"{name} (median)")
        if name != "originals" and mine:
            x = np.array([r["key"] for r in mine], dtype=np.float64)
            y = np.array([r["lsd_db"] for r in mine], dtype=np.float64)
            ax2.scatter(x, y, s=8, color=color, alpha=0.5)
            keys = sorted(set(x.tolist()))
            ax2.plot(keys, [np.median(y[x == k]) for k in keys], color=color, lw=1.2, label=name)
    for ax in (ax1, ax2):
        for k in ref_keys:
            ax.axvline(k, color="0.5", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    ax1.set_yscale("symlog", linthresh=100)
    ax1.set_ylim(-CENTS_CLIP * 1.1, CENTS_CLIP * 1.1)
    ax1.set_ylabel("cents (f0 − sounding pitch)")
    ax1.set_title("one note per instrument encoded (dashed: its key), decoded at every key", fontsize=9)
    ax1.legend(fontsize=7, loc="best")
    ax2.set_ylabel("LSD dB against the real note")
    ax2.xaxis.get_major_locator().set_params(integer=True)
    ax2.set_xlabel("MIDI key")
    if models:
        ax2.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(path: str | Path, title: str, metrics: dict, models: Sequence[str], notes: Sequence[str],
                 figures: Sequence[tuple[str, str]], sections: Sequence[tuple[str, str]] = ()) -> None:
    """report.md: the metrics table, notes on method, ``sections`` (heading, markdown) and the figures
    (relative paths)."""
    parts = [f"# {title}", "", metrics_table(metrics, models), ""]
    parts += [f"- {n}" for n in notes]
    parts.append("")
    for heading, text in sections:
        parts += [f"## {heading}", "", text, ""]
    if figures:
        parts += ["## Figures", ""] + [f"- {caption}: `{file}`" for caption, file in figures] + [""]
    for caption, file in figures:
        parts += [f"## {caption}", "", f"![{caption}]({file})", ""]
    Path(path).write_text("\n".join(parts), encoding="utf-8")

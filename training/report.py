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


def metrics_table(metrics: dict, models: Sequence[str]) -> str:
    """Markdown table of the per-model metrics."""
    lines = ["| model | latent | LSD dB | SC | pitch acc | on-pitch originals | interp pitch acc | "
             "on-pitch pairs | centroid jump | notes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in models:
        m = metrics.get(name)
        if not m:
            continue

        def f(key, fmt):
            v = m.get(key)
            return "–" if v is None else format(v, fmt)

        lines.append(f"| {name} | {m.get('latent_dim', '–')} | {f('lsd_db', '.2f')} | {f('spectral_convergence', '.3f')} | "
                     f"{f('pitch_accuracy', '.3f')} | {f('pitch_accuracy_pitched', '.3f')} | "
                     f"{f('interp_pitch_accuracy', '.3f')} | {f('interp_pitch_accuracy_pitched', '.3f')} | "
                     f"{f('centroid_max_step_ratio', '.2f')} | {m.get('n_notes', '–')} |")
    return "\n".join(lines)


def write_report(path: str | Path, title: str, metrics: dict, models: Sequence[str], notes: Sequence[str],
                 figures: Sequence[tuple[str, str]]) -> None:
    """report.md: the metrics table, notes on method, and the figures (relative paths)."""
    parts = [f"# {title}", "", metrics_table(metrics, models), ""]
    parts += [f"- {n}" for n in notes]
    parts.append("")
    for caption, file in figures:
        parts += [f"## {caption}", "", f"![{caption}]({file})", ""]
    Path(path).write_text("\n".join(parts), encoding="utf-8")

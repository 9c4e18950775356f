"""Where a model's log-spectral distance comes from, and how low any smooth decoder could go.

    .venv/bin/python benchmarks/error_anatomy.py --model models/default --data data/gm/nsynth-test \
        [--baselines runs/default8/baselines] [--max-notes 300] [--refine-notes 50 --refine-steps 200]

Prints, for the model (and the PCA / shallow-AE baselines in ``--baselines`` or in the
model's own ``baselines/``), on the same held-out notes:

1. LSD by stretch of the note (attack, early sustain, late sustain, release);
2. the share of the summed squared dB error by the level of the reference cell relative to
   the note's peak, and the RMS error there;
3. "oracles" that know every note's true spectrogram but smooth it over a few frames and/or
   bins (in power): what a decoder that gets everything right but the fine structure scores;
4. with ``--refine-notes``, the amortisation gap: the decoder's error when the encoder's
   latent is refined by Adam on the training loss against each note (the best latent the
   decoder can use), next to the encoder's own.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

SEGMENTS = [("attack, frames 0-9 (0-0.16 s)", 0, 10), ("early sustain, 10-59", 10, 60),
            ("late sustain, 60-184", 60, 185), ("release, 185-250 (2.96-4 s)", 185, 251)]
LEVELS = [("at the -80 dB floor", -81.0, -79.9), ("-80 to -60 dB", -79.9, -60.0), ("-60 to -40 dB", -60.0, -40.0),
          ("-40 to -20 dB", -40.0, -20.0), ("-20 to 0 dB", -20.0, 0.1)]
ORACLES = [(3, 1), (9, 1), (1, 3), (3, 3)]
LOSS = {"spec/mse": 1.0, "spec/sc": 0.05}  # the shipped recipe's training loss


def squared_db_error(ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ref, est: ``[n, bins, frames]`` magnitudes → (squared dB error, reference dB), both ``[n, bins, frames]``.

    Levels are relative to each note's peak and floored at -80 dB, as in the LSD metric:
    ``error.mean(-2).sqrt().mean(-1)`` is :func:`log_spectral_distance`.
    """
    from morphsynth.training.metrics import amplitude_to_db

    peak = ref.amax(dim=(-2, -1), keepdim=True)
    ref_db = amplitude_to_db(ref, -80.0, peak)
    return (ref_db - amplitude_to_db(est, -80.0, peak)) ** 2, ref_db


def smoothed(mag: torch.Tensor, frames: int, bins: int) -> torch.Tensor:
    """``[n, bins, frames]`` magnitude averaged in power over a ``bins × frames`` box (edges replicated)."""
    x = (mag ** 2)[:, None]
    box = torch.ones(1, 1, bins, frames) / (bins * frames)
    x = F.pad(x, (frames // 2, frames // 2, bins // 2, bins // 2), mode="replicate")
    return F.conv2d(x, box)[:, 0].sqrt()


def refined_lsd(model, notes, n: int, steps: int, lr: float = 0.05) -> tuple[float, float]:
    """Mean LSD of the first ``n`` notes with the encoder's latent, and after ``steps`` Adam steps on it."""
    from morphsynth.core.spectral import log_spectral_distance
    from morphsynth.training.train import compute_losses, weighted_total

    net = model.net
    before, after = [], []
    for lo in range(0, n, 25):
        sl = slice(lo, min(lo + 25, n))
        mag, p, v = notes.mag[sl], notes.pitch[sl], notes.velocity[sl]
        x = net.mag_to_features(mag)
        with torch.no_grad():
            z = net.encode(x, p, v)
        before.append(log_spectral_distance(mag, model.decode(z, p, v)))
        z = z.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            weighted_total(compute_losses(net, net.decode(z, p, v), x, list(LOSS)), LOSS).backward()
            opt.step()
        after.append(log_spectral_distance(mag, model.decode(z.detach(), p, v)))
    return float(torch.cat(before).mean()), float(torch.cat(after).mean())


def main() -> None:
    from morphsynth.training.evaluate import load_eval_notes, reconstruct_all
    from morphsynth.core.spectral import log_spectral_distance
    from morphsynth.core.synth_model import load_synth_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="model folder")
    ap.add_argument("--data", required=True, help="split folder of held-out notes")
    ap.add_argument("--baselines", help="folder holding pca/ and shallow_ae/ (default: MODEL/baselines)")
    ap.add_argument("--max-notes", type=int, default=300)
    ap.add_argument("--refine-notes", type=int, default=0)
    ap.add_argument("--refine-steps", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    notes = load_eval_notes(args.data, args.max_notes, 0)
    base = Path(args.baselines) if args.baselines else Path(args.model) / "baselines"
    models = {"model": load_synth_model(args.model)}
    models.update({name: load_synth_model(base / name) for name in ("pca", "shallow_ae") if (base / name).is_dir()})
    names = list(models)
    errors, ref_db = {}, None
    for name, model in models.items():
        errors[name], ref_db = squared_db_error(notes.mag, reconstruct_all(model, notes)[1])
    lsd = {name: float(e.mean(-2).sqrt().mean()) for name, e in errors.items()}

    print(f"{len(notes)} notes of {args.data}; model {args.model}")
    print("\n| LSD dB by stretch | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for label, a, b in SEGMENTS:
        cells = [f"{errors[n][..., a:b].mean(-2).sqrt().mean():.2f}" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("| whole note (LSD) | " + " | ".join(f"{lsd[n]:.2f}" for n in names) + " |")

    print("\n| reference level (re peak) | share of cells | " + " | ".join(f"{n}: share of sq. error / RMS dB" for n in names)
          + " |\n|---|---|" + "---|" * len(names))
    for label, lo, hi in LEVELS:
        m = (ref_db >= lo) & (ref_db < hi)
        cells = [f"{(errors[n] * m).sum() / errors[n].sum():.2f} / {((errors[n] * m).sum() / m.sum()).sqrt():.1f}"
                 for n in names]
        print(f"| {label} | {m.float().mean():.2f} | " + " | ".join(cells) + " |")

    print("\n| oracle: the true spectrogram smoothed over | LSD dB |\n|---|---|")
    for frames, bins in ORACLES:
        o = float(log_spectral_distance(notes.mag, smoothed(notes.mag, frames, bins)).mean())
        print(f"| {frames} frame(s) × {bins} bin(s) | {o:.2f} |")
    if "pca" in lsd:
        print(f"| (30 % below PCA, for scale) | {0.7 * lsd['pca']:.2f} |")

    if args.refine_notes:
        n = min(args.refine_notes, len(notes))
        enc, ref = refined_lsd(models["model"], notes, n, args.refine_steps)
        print(f"\n| latent of the first {n} notes | LSD dB |\n|---|---|")
        print(f"| the encoder's | {enc:.2f} |\n| refined, {args.refine_steps} Adam steps on the decoder | {ref:.2f} |")


if __name__ == "__main__":
    main()

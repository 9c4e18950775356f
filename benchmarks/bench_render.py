"""Render latency: one cold morphed note, and a whole 88-key re-render after a morph change.

    .venv/bin/python benchmarks/bench_render.py                       # shipped model if present
    .venv/bin/python benchmarks/bench_render.py --model runs/x --library lib.safetensors
    .venv/bin/python benchmarks/bench_render.py --device cuda --batch 8 16 88
    .venv/bin/python benchmarks/bench_render.py --lookup --data data/fluid/nsynth-test

Timings are wall-clock medians of the stages (decode, phase, resample + loop search)
with the cache bypassed. Without a model folder a default-size CAE with untrained
weights is timed (same cost as a trained one). Targets on the 2-core CPU machines:
<= 50 ms per cold note, <= 2 s for the 88 keys. ``--lookup`` instead measures how
well the library's key lookup rules (nearest entries vs instrument mean) predict
held-out pitches of a dataset (log-spectral distance of the decode to the true note).

Measured (phase ``fast`` = one PGHI pass, 48 kHz out, one torch thread):

| machine, model | cold note | 88 keys, batch 8 | 88 keys, batch 16 |
|---|---|---|---|
| 2-core CPU, load ~1.5, untrained default-size CAE (width 24) | 23 ms | 1.75 s | 1.69 s |
| 2-core CPU, load ~5 (other test suites), shipped model (width 12) | 43 ms | 4.3 s | 3.1 s |
| H200, shipped model (batch 88: 0.20 s) | 21.5 ms | 0.50 s | 0.22 s (batch 32) |
| H100, untrained default-size CAE (batch 88: 0.17 s) | 18.9 ms | 0.41 s | 0.34 s |

On the GPU the cold note is bound by PGHI's frame-by-frame integration (16 ms of it);
decode is 2-3 ms. ``quality`` (PGHI + 16 Griffin-Lim iterations) costs 2.5-3x on the CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


def load_parts(args):
    from morphsynth.core.synth_model import default_model_dir
    from morphsynth.server.library import LIBRARY_FILE, Library
    from morphsynth.core.synth_model import load_synth_model

    model_dir = Path(args.model) if args.model else default_model_dir()
    if (model_dir / "model.json").is_file():
        model = load_synth_model(model_dir, device=args.device)
        lib_path = Path(args.library) if args.library else model_dir / LIBRARY_FILE
        if lib_path.is_file():
            return model, Library.load(lib_path, model), f"{model_dir}"
        return model, random_library(model), f"{model_dir} (random library)"
    from morphsynth.core.model import CaeConfig
    from morphsynth.core.synth_model import as_synth_model, build_network

    model = as_synth_model(build_network("cae", CaeConfig()), "untrained", device=args.device)
    return model, random_library(model), "untrained default-size CAE"


def random_library(model):
    from morphsynth.server.library import Library

    g = torch.Generator().manual_seed(0)
    n_src, pitches = 4, list(range(24, 108, 12))
    n = n_src * len(pitches)
    return Library(torch.randn(n, model.latent_dim, generator=g), torch.tensor(pitches * n_src),
                   torch.full((n,), 100), torch.arange(n_src).repeat_interleave(len(pitches)),
                   [f"src{i}" for i in range(n_src)], ["synthetic"] * n_src, model.model_hash, model.name)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed_batch(renderer, items, device):
    """(decode_s, phase_s, post_s) of one batch rendered through the renderer's stages."""
    from morphsynth.server.renderer import find_loop, reconstruct_phase
    from morphsynth.core.resample import resample

    stft = renderer.model.stft
    t0 = time.perf_counter()
    mags = renderer.render_magnitudes(items)
    sync(device)
    t1 = time.perf_counter()
    audio = reconstruct_phase(mags, renderer.phase, renderer.n_iter, stft.n_fft, stft.hop)
    sync(device)
    t2 = time.perf_counter()
    out = resample(audio.float().cpu().numpy(), stft.sample_rate, renderer.out_rate)
    for (_, pitch, _), a in zip(items, out.reshape(len(items), -1)):
        find_loop(a, renderer.out_rate, 440.0 * 2 ** ((pitch - 69) / 12), renderer.hold_end)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def bench_cold(model, library, args, phase):
    from morphsynth.server.morph import Morph
    from morphsynth.server.renderer import Renderer

    names = library.names[:2] if len(library.names) >= 2 else library.names * 2
    morph = Morph(tuple(names), (0.6, 0.4))
    with Renderer(model, library, out_rate=args.rate, phase=phase, prerender_all=False) as r:
        timed_batch(r, [(morph, 60, 100)], args.device)  # warm-up: first calls compile and allocate
        runs = [timed_batch(r, [(morph, 40 + (i * 7) % 48, 100)], args.device) for i in range(args.repeats)]
    return [statistics.median(x) for x in zip(*runs)]


def bench_keys(model, library, args, phase, batch):
    from morphsynth.server.morph import Morph
    from morphsynth.server.renderer import Renderer

    names = library.names[:2] if len(library.names) >= 2 else library.names * 2
    morph = Morph(tuple(names), (0.3, 0.7))
    items = [(morph, p, 100) for p in range(21, 109)]
    with Renderer(model, library, out_rate=args.rate, phase=phase, prerender_all=False) as r:
        timed_batch(r, items[:batch], args.device)
        totals = np.zeros(3)
        for lo in range(0, len(items), batch):
            totals += timed_batch(r, items[lo:lo + batch], args.device)
    return totals


def bench_lookup(model, library_unused, args):
    """LSD (dB) of held-out pitches predicted by each lookup rule."""
    from morphsynth.server.library import NoteEntry, build_library
    from morphsynth.core.spectral import log_spectral_distance
    from morphsynth.training.nsynth import list_examples
    from morphsynth.core.spectral import magnitude

    examples = list_examples(args.data)
    loudest = max(ex.velocity for ex in examples)
    names = sorted({ex.instrument_str for ex in examples})[: args.max_instruments]
    examples = [ex for ex in examples if ex.velocity == loudest and ex.instrument_str in set(names)]
    n = model.stft.n_samples(model.n_frames)
    audio = {ex.note_str: ex.load_audio(n) for ex in examples}
    by_inst: dict[str, list] = {}
    for ex in examples:
        by_inst.setdefault(ex.instrument_str, []).append(ex)
    kept, held = [], []
    for exs in by_inst.values():
        exs.sort(key=lambda e: e.pitch)
        for i, ex in enumerate(exs):
            # Every other pitch is held out, but never the ends (nearest would have one side only).
            (held if 0 < i < len(exs) - 1 and i % 2 else kept).append(ex)
    lib = build_library(model, (NoteEntry(e.instrument_str, e.family_str, e.pitch, e.velocity, audio[e.note_str])
                                for e in kept))
    ref = magnitude(torch.from_numpy(np.stack([audio[e.note_str] for e in held])))
    rows = []
    for mode in ("nearest", "mean", "oracle"):
        if mode == "oracle":
            z = model.encode_audio(torch.from_numpy(np.stack([audio[e.note_str] for e in held])),
                                   [e.pitch for e in held], [e.velocity for e in held])
        else:
            z = torch.stack([lib.latent_for(e.instrument_str, e.pitch, loudest, mode=mode) for e in held])
        mags = model.decode(z, torch.tensor([e.pitch for e in held]), torch.tensor([loudest] * len(held)))
        lsd = log_spectral_distance(ref, mags.cpu())
        rows.append((mode, float(lsd.mean()), float(lsd.median())))
    print(f"lookup rules on {len(held)} held-out notes ({len(by_inst)} instruments), LSD dB (lower is better)")
    print(f"| rule | mean | median |\n|---|---|---|")
    for mode, mean, med in rows:
        label = {"oracle": "oracle (encode the true note)"}.get(mode, mode)
        print(f"| {label} | {mean:.2f} | {med:.2f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--library")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads on the CPU (default 1)")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--phase", nargs="+", default=["fast", "quality"], help="phase methods; the first is the reference")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4, 8, 16], help="batch sizes for the 88 keys")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--lookup", action="store_true", help="compare the library lookup rules instead")
    ap.add_argument("--data", help="dataset for --lookup")
    ap.add_argument("--max-instruments", type=int, default=40, help="instruments measured by --lookup")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, library, what = load_parts(args)
    if args.lookup:
        if not args.data:
            ap.error("--lookup needs --data")
        bench_lookup(model, library, args)
        return 0
    print(f"model: {what}, latent_dim {model.latent_dim}; device {args.device}, {args.threads} torch thread(s); "
          f"output {args.rate} Hz")
    print("\ncold render of one morphed 4 s note (median of %d), ms" % args.repeats)
    print("| phase | decode | phase | resample+loop | total | vs first |\n|---|---|---|---|---|---|")
    ref = None
    for phase in args.phase:
        d, p, r = bench_cold(model, library, args, phase)
        total = d + p + r
        ref = ref or total
        print(f"| {phase} | {d * 1e3:.1f} | {p * 1e3:.1f} | {r * 1e3:.1f} | {total * 1e3:.1f} | {total / ref:.2f}x |")
    print("\nre-render of all 88 keys (21-108) after a morph change, s")
    print("| phase | batch | decode | phase | resample+loop | total | ms/note |\n|---|---|---|---|---|---|---|")
    for phase in args.phase[:1]:
        for b in args.batch:
            d, p, r = bench_keys(model, library, args, phase, b)
            total = d + p + r
            print(f"| {phase} | {b} | {d:.2f} | {p:.2f} | {r:.2f} | {total:.2f} | {total / 88 * 1e3:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

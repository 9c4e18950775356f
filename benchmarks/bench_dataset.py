"""Dataset building and reading speed.

    .venv/bin/python benchmarks/bench_dataset.py
    .venv/bin/python benchmarks/bench_dataset.py --sf2 /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 --workers 1 2 4

Build: notes rendered per second by ``build_soundfont_dataset`` (FluidSynth render,
silence check, 16-bit WAV write, examples.json) into a fresh folder, with 1 and 2
worker processes; times include starting the workers and loading the SoundFont in
each, as a real build pays them; each row is the fastest of ``--repeat`` builds, since
the 2-core machines are shared and a busy neighbour slows single runs. A warm-up build
first loads the SoundFont into this process so the 1-worker row is not charged for the
first disk read alone. A CPU check first reports how many cores are actually free:
two workers can only gain where a second core is idle.

A last row times FluidSynth alone (no silence check, no WAV writes), the ceiling for
one worker.

Read: items per second of :class:`NSynthDataset` over the built notes, first epoch
(decode WAV + STFT + cache write) against the second (cache read).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def free_cores(n: int = 3_000_000) -> float:
    """How many cores two busy loops really get: serial time of both / parallel wall time."""
    import multiprocessing

    serial = _spin(n) + _spin(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # start both workers first
        t0 = time.perf_counter()
        pool.map(_spin, [n, n], chunksize=1)
        parallel = time.perf_counter() - t0
    return serial / parallel


def main() -> int:
    from morphsynth.training.soundfont import FLUID_R3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf2", default=str(FLUID_R3))
    parser.add_argument("--programs", default="0,4,11,13,20,22,24,27,33,38,40,45,52,56,61,65,71,73,81,89")
    parser.add_argument("--pitches", default="24-96")
    parser.add_argument("--pitch-step", type=int, default=3)
    parser.add_argument("--velocities", default="25,50,75,100,127")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="builds per row; the fastest counts")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from morphsynth.training.dataset_soundfont import (build_soundfont_dataset, parse_int_list,
                                                      parse_pitch_range)
    from morphsynth.training.nsynth import NSynthDataset

    opts = dict(programs=parse_int_list(args.programs, "--programs", 0, 127),
                pitches=parse_pitch_range(args.pitches), pitch_step=args.pitch_step,
                velocities=parse_int_list(args.velocities, "--velocities", 1, 127), seed=0)
    scratch = Path(tempfile.mkdtemp(prefix="bench_dataset_"))
    try:
        build_soundfont_dataset([args.sf2], scratch / "warmup", **{**opts, "programs": opts["programs"][:1],
                                                                  "velocities": [100]})
        print(f"CPU check: two busy loops ran {free_cores():.2f}x faster in parallel than in series "
              f"(2.00x = two free cores; the 2-worker row cannot beat this)")
        print(f"SoundFont {Path(args.sf2).name}: {len(opts['programs'])} programs, pitches {args.pitches} "
              f"step {args.pitch_step}, velocities {args.velocities}")
        print(f"{'workers':>11} {'notes':>6} {'seconds':>8} {'notes/s':>8} {'vs 1 worker':>11}")
        base = None
        last = None
        for row, workers in enumerate(args.workers):
            times = []
            for rep in range(args.repeat):
                out = scratch / f"row{row}-{rep}"
                t0 = time.perf_counter()
                report = build_soundfont_dataset([args.sf2], out, workers=workers, **opts)
                times.append(time.perf_counter() - t0)
            dt = min(times)
            n = report.rendered + len(report.skipped)
            rate = n / dt
            base = base or rate
            print(f"{workers:>11} {n:>6} {dt:>8.2f} {rate:>8.1f} {rate / base:>10.2f}x")
            last = out
        # The ceiling: FluidSynth alone in this process, no silence check, no file writes.
        from morphsynth.training.soundfont import SoundFontSynth

        with SoundFontSynth(args.sf2) as synth:
            lo, hi = opts["pitches"]
            plan = [(p, k, v) for p in opts["programs"] for k in range(lo, hi + 1, args.pitch_step)
                    for v in opts["velocities"]]
            t0 = time.perf_counter()
            for program, pitch, velocity in plan:
                synth.render(program, pitch, velocity)
            dt = time.perf_counter() - t0
        rate = len(plan) / dt
        print(f"{'render only':>11} {len(plan):>6} {dt:>8.2f} {rate:>8.1f} {rate / base:>10.2f}x")

        print()
        print(f"{'reader epoch':>12} {'items':>6} {'seconds':>8} {'items/s':>8} {'vs 1st':>7}")
        first = None
        for epoch in (1, 2):
            ds = NSynthDataset(last, split=None)
            t0 = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            dt = time.perf_counter() - t0
            rate = len(ds) / dt
            first = first or rate
            label = "1 (compute)" if epoch == 1 else "2 (cache)"
            print(f"{label:>12} {len(ds):>6} {dt:>8.2f} {rate:>8.1f} {rate / first:>6.2f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

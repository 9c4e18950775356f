"""Mixer cost: milliseconds per audio block of ``Engine.process`` at 8, 32 and 64 voices,
for this checkout's engine ("after") and the one in another git revision ("before": its
server/engine.py and the engine parts it has, server/engine_*.py and envelope.py, loaded
from ``git show`` under their own module names).

    .venv/bin/python benchmarks/bench_engine.py                   # before = main
    .venv/bin/python benchmarks/bench_engine.py --before HEAD~1 --voices 8 32 64 96

Every voice is held and looping (the note is held past loop_end), on one of 16
channels with channel bends moving, as in a dense MPE passage. Timings are medians
over repeats of ``--blocks`` callbacks, the two engines interleaved so that load from
other processes falls on both alike. ``peak KB`` is the most memory (tracemalloc, all
domains) a single callback had allocated at once beyond what it started with.

Measured on the 2-core CPU machine shared with other jobs (load ~3), 256-frame blocks,
median of 11 x 200; before = ea9ee16 (the mixer that made numpy temporaries every block),
after = the allocation-free mixer (output bit-identical):

| voices | before ms | after ms | after/before | before peak KB | after peak KB |
|---|---|---|---|---|---|
| 8 | 0.150 | 0.126 | 0.84 | 53.4 | 7.1 |
| 32 | 0.504 | 0.395 | 0.78 | 199.7 | 7.3 |
| 64 | 0.558 | 0.425 | 0.76 | 202.9 | 7.5 |

Absolute times move with the load (a second run: 0.321 / 0.249 ms at 32 voices); the
ratio stayed within 0.74-0.84. The "before" peak is mostly ufunc iteration buffers
(8192 elements per operand) and fancy-indexing temporaries.

A second table times the crossfade to new renders (sounding notes following the morph)
at its worst: every voice retargeted again as soon as its last fade ends. Same machine,
median of 5 x 200, crossfading voices mixed 16 at a time:

| voices | steady ms | crossfading ms | ratio | crossfading peak KB |
|---|---|---|---|---|
| 8 | 0.127 | 0.207 | 1.63 | 7.8 |
| 32 | 0.251 | 0.553 | 2.20 | 8.2 |
| 64 | 0.442 | 1.073 | 2.43 | 8.7 |

(one voice at a time, the first version: 0.272 / 0.838 / 1.589 ms).

The engine split into named parts (ring, voice fields, envelope, mixer stages; loop
seams blended 16 voices at a time instead of one by one), against the single-file engine
of a0b790e, same machine, median of 7 x 200:

| voices | before ms | after ms | after/before |
|---|---|---|---|
| 8 | 0.139 | 0.135 | 0.97 |
| 32 | 0.234 | 0.223 | 0.95 |
| 64 | 0.363 | 0.325 | 0.90 |
"""

from __future__ import annotations

import argparse
import importlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 48000


ENGINE_PARTS = ("engine", "engine_mixer", "engine_ring", "engine_voices", "envelope", "engine_memory")


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def write_engine(sources: dict[str, str], folder: Path, prefix: str) -> str:
    """Write the engine modules ``{part: source}`` into ``folder`` as ``{prefix}{part}.py``,
    importing one another under those names; returns the engine's module name."""
    pattern = re.compile(r"morphsynth\.server\.(%s)\b" % "|".join(sources))
    for part, source in sources.items():
        (folder / f"{prefix}{part}.py").write_text(pattern.sub(prefix + r"\1", source))
    return prefix + "engine"


def load_engine(name: str):
    module = importlib.import_module(name)
    sys.modules[name] = module            # dataclasses look their module up while defining
    return module


def sine_note(hz: float, seconds: float = 4.0, amp: float = 0.1):
    from morphsynth.server.renderer import RenderedNote

    n = int(seconds * SR)
    t = np.arange(n) / SR
    return RenderedNote((amp * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR,
                        3 * SR, SR, int(1.5 * SR))


def busy(module, voices: int, block: int, notes):
    """An engine with ``voices`` held voices, warmed up until all of them loop."""
    eng = module.Engine(SR, polyphony=max(voices, 1), max_block=max(block, 256),
                        adsr=module.Adsr(0.01, 0.1, 0.8, 0.3))
    for i in range(voices):
        eng.note_on(36 + i % 48, notes[i % len(notes)], channel=i % 16)
    out = np.zeros(block, np.float32)
    for _ in range(int(1.6 * SR / block)):
        eng.process(out)
    assert eng.active_voices() == voices and bool(np.all(eng.looping[eng.state == 1]))
    return eng, out


def time_blocks(eng, out, blocks: int, step: list[int]) -> float:
    """Milliseconds per callback over ``blocks`` callbacks, bends changing every 8."""
    start = time.perf_counter()
    for b in range(blocks):
        if b % 8 == 0:
            step[0] += 1
            eng.set_bend(0.3 * np.sin(step[0] / 5.0), channel=step[0] % 16)
        eng.process(out)
    return (time.perf_counter() - start) * 1000.0 / blocks


def time_following(eng, out, blocks: int, notes, alternates) -> float:
    """Milliseconds per callback while every voice crossfades to a new render of its key,
    one after the other (a chord held while the morph keeps moving)."""
    keys = sorted({int(p) for p in eng.pitch[eng.state == 1]})
    period = -(-eng.swap_frames // out.shape[0])
    start = time.perf_counter()
    for b in range(blocks):
        if b % period == 0:
            turn = (b // period) % 2
            for key in keys:
                eng.retarget(key, (alternates if turn else notes)[(key - 36) % len(notes)])
        eng.process(out)
    return (time.perf_counter() - start) * 1000.0 / blocks


def peak_kb(eng, out, blocks: int = 40) -> float:
    tracemalloc.start()
    try:
        worst = 0
        for _ in range(blocks):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            eng.process(out)
            worst = max(worst, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return worst / 1024.0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="git revision of the 'before' engine")
    ap.add_argument("--voices", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--block", type=int, default=256, help="frames per callback")
    ap.add_argument("--blocks", type=int, default=200, help="callbacks per timed repeat")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    tree = set(git("ls-tree", "--name-only", args.before, "server/").split())
    before = {p: git("show", f"{args.before}:server/{p}.py") for p in ENGINE_PARTS if f"server/{p}.py" in tree}
    after = {p: (ROOT / "server" / f"{p}.py").read_text() for p in ENGINE_PARTS if (ROOT / "server" / f"{p}.py").is_file()}
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        engines = {"before": load_engine(write_engine(before, Path(tmp), "before_")),
                   "after": load_engine(write_engine(after, Path(tmp), "after_"))}
        sys.path.remove(tmp)
    notes = [sine_note(110.0 * 2 ** (i / 12)) for i in range(24)]
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.before],
                         capture_output=True, text=True).stdout.strip()
    print(f"ms per {args.block}-frame callback (median of {args.repeats} x {args.blocks}); "
          f"before = {args.before} ({rev}), after = this checkout's server/")
    print("| voices | before ms | after ms | after/before | before peak KB | after peak KB |")
    print("|---|---|---|---|---|---|")
    for voices in args.voices:
        setups = {name: busy(module, voices, args.block, notes) for name, module in engines.items()}
        times: dict[str, list[float]] = {name: [] for name in setups}
        steps = {name: [0] for name in setups}
        for _ in range(args.repeats):
            for name, (eng, out) in setups.items():
                times[name].append(time_blocks(eng, out, args.blocks, steps[name]))
        ms = {name: statistics.median(t) for name, t in times.items()}
        kb = {name: peak_kb(*setups[name]) for name in setups}
        print(f"| {voices} | {ms['before']:.3f} | {ms['after']:.3f} | {ms['after'] / ms['before']:.2f} "
              f"| {kb['before']:.1f} | {kb['after']:.1f} |")
    if hasattr(engines["after"].Engine, "retarget"):
        alternates = [sine_note(110.0 * 2 ** (i / 12), amp=0.05) for i in range(24)]
        print(f"\nafter, every voice crossfading to new renders of its key without a pause (the morph "
              f"moving under a held chord) vs the same voices steady")
        print("| voices | steady ms | crossfading ms | ratio | crossfading peak KB |")
        print("|---|---|---|---|---|")
        for voices in args.voices:
            steady, moving = busy(engines["after"], voices, args.block, notes), \
                busy(engines["after"], voices, args.block, notes)
            t_steady, t_moving, step = [], [], [0]
            for _ in range(args.repeats):
                t_steady.append(time_blocks(*steady, args.blocks, step))
                t_moving.append(time_following(*moving, args.blocks, notes, alternates))
            a, b = statistics.median(t_steady), statistics.median(t_moving)
            print(f"| {voices} | {a:.3f} | {b:.3f} | {b / a:.2f} | {peak_kb(*moving):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Render regression: a seeded score played through the real server path (Controls ->
Renderer -> Engine, block by block) must match the stored reference WAV (SNR >= 60 dB),
so a refactor that changes the sound fails the build.

The model is the seeded small CAE of ``fuzz_corpus.build_fuzz_parts`` (untrained weights
from ``torch.manual_seed(0)``, a library of FluidR3 notes), which renders identically on
every run. Regenerate the reference after an intended change of the sound with::

    .venv/bin/python tests/test_regression.py --regenerate
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

SR = 48000
BLOCK = 256
SECONDS = 2.4
SCORE_SEED = 2026
REFERENCE = Path(__file__).resolve().parent / "data" / "regression_reference.wav"
MIN_SNR_DB = 60.0


def score(seed: int = SCORE_SEED) -> list[tuple[int, str, tuple]]:
    """(block, event, args) sorted by block: notes with offs, morph moves, a bend."""
    rng = random.Random(seed)
    n_blocks = int(SECONDS * SR / BLOCK)
    events = [(0, "xy", (0.5, 0.5)), (0, "on", (60, 100, 0))]
    events.append((int(n_blocks * 0.5), "off", (60, 0)))
    for i in range(1, 7):
        start = rng.randrange(0, int(n_blocks * 0.6))
        pitch, velocity = rng.choice((48, 55, 64, 67, 72)), rng.choice((70, 100))
        events.append((start, "on", (pitch, velocity, i)))
        events.append((start + rng.randrange(40, 160), "off", (pitch, i)))
    for _ in range(2):
        events.append((rng.randrange(20, int(n_blocks * 0.6)), "xy", (rng.random(), rng.random())))
    events.append((rng.randrange(50, 200), "bend", (rng.uniform(-1, 1),)))
    return sorted(events, key=lambda e: (e[0], e[1] != "xy"))


def render_score(model_dir: Path, library: Path) -> np.ndarray:
    """The score's audio ``[n_samples]`` at 48 kHz, rendered deterministically: after every
    event the renders it caused finish before the next block is played."""
    import torch

    from morphsynth.server.control import Controls
    from morphsynth.server.engine import Engine
    from morphsynth.server.envelope import Adsr
    from morphsynth.server.library import Library
    from morphsynth.server.renderer import Renderer
    from morphsynth.core.synth_model import load_synth_model

    torch.set_num_threads(1)
    model = load_synth_model(model_dir)
    lib = Library.load(library, model)
    renderer = Renderer(model, lib, out_rate=SR, prerender_all=False)
    engine = Engine(SR, polyphony=16, adsr=Adsr(0.01, 0.1, 0.8, 0.2), gain_db=-6.0)
    controls = Controls(engine, renderer, sources=lib.names[:4], adsr=Adsr(0.01, 0.1, 0.8, 0.2), gain_db=-6.0)
    events = score()
    n_blocks = int(SECONDS * SR / BLOCK)
    out = np.zeros(BLOCK, np.float32)
    blocks = []
    i = 0
    try:
        for b in range(n_blocks):
            while i < len(events) and events[i][0] == b:
                _, kind, args = events[i]
                if kind == "on":
                    controls.note_on(args[0], args[1], 0, args[2])
                elif kind == "off":
                    controls.note_off(args[0], 0, args[1])
                elif kind == "xy":
                    controls.set_xy(*args)
                else:
                    controls.bend(args[0])
                assert controls.wait_requests(120.0)
                assert renderer.queue.wait_idle(120.0)
                i += 1
            engine.process(out)
            blocks.append(out.copy())
    finally:
        renderer.close()
    return np.concatenate(blocks)


def snr_db(reference: np.ndarray, audio: np.ndarray) -> float:
    noise = float(np.sum((reference.astype(np.float64) - audio) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10.0 * np.log10(signal / noise)


def test_seeded_score_renders_as_the_stored_reference(fuzz_parts):
    import soundfile as sf

    reference, rate = sf.read(REFERENCE, dtype="float32")
    audio = render_score(*fuzz_parts)
    assert rate == SR and audio.shape == reference.shape
    assert np.sqrt(np.mean(reference ** 2)) > 1e-3          # the reference is not silence
    snr = snr_db(reference, audio)
    print(f"\nregression: SNR {snr:.1f} dB against {REFERENCE.name}")
    assert snr >= MIN_SNR_DB


def test_a_changed_sound_falls_below_the_threshold(fuzz_parts):
    """The check can fail: a 0.1 dB gain change or one block of delay is caught."""
    import soundfile as sf

    reference, _ = sf.read(REFERENCE, dtype="float32")
    assert snr_db(reference, reference * 10 ** (0.1 / 20)) < MIN_SNR_DB
    assert snr_db(reference, np.roll(reference, BLOCK)) < MIN_SNR_DB


def main(argv: list[str]) -> int:
    import argparse
    import tempfile

    import soundfile as sf

    ap = argparse.ArgumentParser(description="Render the regression score; --regenerate stores it.")
    ap.add_argument("--regenerate", action="store_true", help=f"write {REFERENCE}")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fuzz_corpus import build_fuzz_parts

    with tempfile.TemporaryDirectory() as work:
        audio = render_score(*build_fuzz_parts(Path(work)))
    if args.regenerate:
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        sf.write(REFERENCE, audio, SR, subtype="PCM_24")
        print(f"wrote {REFERENCE} ({len(audio) / SR:.2f} s, peak {np.max(np.abs(audio)):.3f})")
    else:
        reference, _ = sf.read(REFERENCE, dtype="float32")
        print(f"SNR {snr_db(reference, audio):.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

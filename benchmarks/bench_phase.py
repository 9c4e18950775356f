"""Phase reconstruction benchmark: speed and quality from true magnitudes.

Renders 40 dry FluidR3_GM notes (20 General MIDI programs × 2 pitches between
MIDI 36 and 84, velocity 100, 3 s hold + 1 s release, 16 kHz, peak 0.8), takes
their true magnitudes and reconstructs audio with each method, then prints
milliseconds per note, spectral convergence (SC), log-spectral distance (LSD),
pitch accuracy (CREPE median f0 within ±50 cents) and speed ratios against
``librosa.griffinlim`` (32 and 100 iterations) and ``pghipy`` run in the same
process, so ratios compare like with like on a busy machine.

    .venv/bin/python benchmarks/bench_phase.py                 # CPU, one torch thread
    .venv/bin/python benchmarks/bench_phase.py --device cuda   # our methods on the GPU
    .venv/bin/python benchmarks/bench_phase.py --no-pitch --notes 8
    .venv/bin/python benchmarks/bench_phase.py --save-audio /tmp/notes.npz   # for a machine without FluidSynth
    python3 benchmarks/bench_phase.py --audio notes.npz --device cuda --pitch autocorrelation

Reference libraries that are not installed (librosa, pghipy, torchcrepe) are
skipped with a note instead of failing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np
import torch

from morphsynth.core import phase, spectral
from morphsynth.core.spectral import log_spectral_distance
from morphsynth.training.metrics import spectral_convergence

# One program per General MIDI family and a few extra, plucked and bowed, tonal and noisy.
PROGRAMS = [0, 6, 11, 19, 24, 33, 40, 42, 46, 48, 56, 60, 65, 68, 71, 73, 80, 81, 88, 104]
N_FFT, HOP, SAMPLE_RATE = 1024, 256, 16000


def render_notes(n_notes: int) -> tuple[np.ndarray, np.ndarray]:
    """``[n, 64000]`` float32 notes and ``[n, 2]`` (program, pitch)."""
    from morphsynth.training.soundfont import FLUID_R3, SoundFontSynth

    notes, meta = [], []
    with SoundFontSynth(FLUID_R3, SAMPLE_RATE) as synth:
        for i, program in enumerate(PROGRAMS):
            # Two pitches per program spread over 36..84 without repeating pairs.
            for midi in (36 + (i * 5) % 24, 60 + (i * 7) % 25):
                audio = synth.render(program, midi, 100)
                notes.append(audio / max(float(np.abs(audio).max()), 1e-9) * 0.8)
                meta.append((program, midi))
    return np.stack(notes)[:n_notes].astype(np.float32), np.array(meta)[:n_notes]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="notes per reconstruct() call (default: 8 on the CPU, all on a GPU)")
    parser.add_argument("--notes", type=int, default=40, help="how many of the 40 notes to use")
    parser.add_argument("--pitch", choices=["crepe", "autocorrelation"], default="crepe",
                        help="pitch tracker for the accuracy column")
    parser.add_argument("--no-pitch", action="store_true", help="skip the pitch-accuracy column")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over all methods; each keeps its fastest round (steadier on a busy machine)")
    parser.add_argument("--quick", action="store_true", help="fewer rows: modes and references only")
    parser.add_argument("--audio", help="load notes from an .npz (audio, meta) instead of rendering")
    parser.add_argument("--save-audio", help="write the rendered notes to this .npz and continue")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    if args.audio:
        data = np.load(args.audio)
        audio_np, meta = data["audio"][: args.notes], data["meta"][: args.notes]
    else:
        audio_np, meta = render_notes(args.notes)
    if args.save_audio:
        np.savez(args.save_audio, audio=audio_np, meta=meta)
    pitches = meta[:, 1]
    audio = torch.from_numpy(audio_np)
    true_spec = spectral.stft(audio, N_FFT, HOP)  # [n, 513, 251]
    mag = true_spec.abs()
    mag_dev = mag.to(device)
    n = mag.shape[0]

    notes_skipped: list[str] = []
    jobs: list[tuple[str, object, object]] = []  # name, run over all notes, warm-up or None

    def register(name: str, fn, warm=None) -> None:
        jobs.append((name, fn, warm))

    def ours(method: str, n_iter: int | None = None):
        kwargs = dict(method=method, n_iter=n_iter, batch_size=args.batch_size)
        return (lambda: phase.reconstruct(mag_dev, **kwargs),
                lambda: phase.reconstruct(mag_dev[:2], **kwargs))

    register("true phase (upper bound)", lambda: spectral.istft(true_spec, N_FFT, HOP))
    register("random phase (lower bound)", *ours("griffinlim", 0))

    if have("librosa"):
        import librosa

        def librosa_gl(n_iter: int, count: int | None = None):
            mags = mag.numpy()[:count]
            return torch.from_numpy(np.stack([
                librosa.griffinlim(m, n_iter=n_iter, hop_length=HOP, n_fft=N_FFT, window="hann", center=True,
                                   pad_mode="constant", length=(mag.shape[-1] - 1) * HOP, random_state=0)
                for m in mags]))

        # The first call compiles librosa's numba helpers: keep it out of the timing.
        register("librosa.griffinlim 32 it.", lambda: librosa_gl(32), lambda: librosa_gl(2, 1))
        register("librosa.griffinlim 100 it.", lambda: librosa_gl(100))
    else:
        notes_skipped.append("librosa not installed: no librosa.griffinlim rows, no ratios")

    if have("pghipy"):
        import pghipy

        gamma = phase.HANN_GAMMA * N_FFT ** 2

        def pghipy_run(count: int | None = None):
            # pghipy wants (frames, bins); its own istft needs a synthesis window, so torch inverts.
            mags = mag.double().numpy()[:count]
            phases = np.stack([pghipy.pghi(np.ascontiguousarray(m.T), N_FFT, HOP, gamma=gamma).T for m in mags])
            spec = torch.polar(torch.from_numpy(mags), torch.from_numpy(phases)).to(torch.complex64)
            return spectral.istft(spec, N_FFT, HOP)

        register("pghipy (numba), one pass", pghipy_run, lambda: pghipy_run(1))
    else:
        notes_skipped.append("pghipy not installed: no pghipy row")

    plan = [("griffinlim", 32), ("griffinlim", 100), ("pghi", 0), ("pghi", 2), ("pghi", 4), ("pghi", 8),
            ("pghi", 16), ("pghi", 32), ("pghi_heap", 0), ("pghi_heap", 16)]
    if args.quick:
        plan = [("griffinlim", 32)]
    for method, n_iter in plan:
        label = {"griffinlim": "fast Griffin-Lim", "pghi": "PGHI (vectorised)", "pghi_heap": "PGHI (heap)"}[method]
        name = f"{label}, one pass" if n_iter == 0 else (f"{label} {n_iter} it." if method == "griffinlim"
                                                        else f"{label} + {n_iter} fGL it.")
        register(name, *ours(method, n_iter))
    for mode in phase.MODES:
        method, n_iter = phase.MODES[mode]
        register(f"mode '{mode}' ({method} + {n_iter} it.)", *ours(mode))

    for name, _, warm in jobs:
        if warm is not None:
            warm()
    # Rounds over all methods, keeping each one's fastest: a load spike from another
    # process then hits one round of every method rather than every round of one.
    best = {name: float("inf") for name, _, _ in jobs}
    outputs = {}
    for round_index in range(max(1, args.repeat)):
        for name, fn, _ in jobs:
            sync(device)
            start = time.perf_counter()
            outputs[name] = fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - start)
            print(f"  round {round_index + 1}: {name}: {best[name] * 1000 / n:.1f} ms/note", file=sys.stderr)
    rows = [(name, best[name] * 1000 / n, outputs[name].detach().float().cpu()) for name, _, _ in jobs]

    # Quality columns, computed after all timings.
    accuracy = {}
    if not args.no_pitch:
        from morphsynth.training.pitch_accuracy import pitch_accuracy

        if args.pitch == "crepe" and not have("torchcrepe"):
            notes_skipped.append("torchcrepe not installed: pitch accuracy by autocorrelation")
            args.pitch = "autocorrelation"
        for name, _, out in rows:
            accuracy[name] = pitch_accuracy(out, pitches, SAMPLE_RATE, method=args.pitch)

    ref = {name: ms for name, ms, _ in rows}
    gl32, gl100 = ref.get("librosa.griffinlim 32 it."), ref.get("librosa.griffinlim 100 it.")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{n} notes, STFT {N_FFT}/{HOP}, device {device}, {args.threads} torch thread(s), "
          f"batch {args.batch_size or ('8' if device.type == 'cpu' else 'all')}, load average {load:.1f}, "
          f"pitch by {'-' if args.no_pitch else args.pitch}\n")
    print("| method | ms/note | SC mean | SC median | LSD dB | pitch acc | speed vs librosa 32 | vs librosa 100 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ms, out in rows:
        est = spectral.magnitude(out, N_FFT, HOP)
        sc = spectral_convergence(mag, est)
        lsd = log_spectral_distance(mag, est).mean().item()
        acc = f"{accuracy[name]:.3f}" if name in accuracy else "-"
        r32 = f"{gl32 / ms:.1f}x" if gl32 else "-"
        r100 = f"{gl100 / ms:.1f}x" if gl100 else "-"
        print(f"| {name} | {ms:.1f} | {sc.mean():.4f} | {sc.median():.4f} | {lsd:.2f} | {acc} | {r32} | {r100} |")
    for line in notes_skipped:
        print(f"\nnote: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

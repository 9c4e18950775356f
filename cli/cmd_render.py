"""`morphsynth render`: write one morphed note to a WAV file."""

from __future__ import annotations

import math
from pathlib import Path

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth render --source flute --pitch 60 --velocity 100 --out flute.wav
  morphsynth render --source flute --source cello:0.5 --pitch 48 --velocity 90 --out mix.wav
  morphsynth render --source flute --source cello --slerp --pitch 55 --velocity 100 --out arc.wav
  morphsynth render --source a --source b --source c --source d --xy 0.3 0.7 --pitch 60 --velocity 100 --out xy.wav
  morphsynth render --source flute --source cello --ramp 0:1,0 --ramp 3:0,1 --pitch 60 --velocity 100 --out sweep.wav
  morphsynth render --source organ --knob pc1=1.5 --pitch 36 --velocity 100 --duration 8 --rate 44100 --normalize --out long.wav
  morphsynth render --model runs/default --library lib.safetensors --source bass --pitch 40 --velocity 100 --phase quality --out q.wav
"""


def add_parser(sub) -> None:
    p = subcommand(sub, "render", help="render one morphed note to a WAV file",
                   description="Mix library sources in the model's latent space, decode, reconstruct phase "
                               "and write one note (4 s by default: 3 s hold + 1 s release).",
                   examples=EXAMPLES)
    p.add_argument("--model", help="model folder (default: $MORPHSYNTH_MODEL or the shipped models/default)")
    p.add_argument("--library", help="latent library (default: MODEL/library.safetensors)")
    p.add_argument("--source", action="append", required=True, metavar="NAME[:WEIGHT]",
                   help="a library source and its weight (default 1); repeat to mix; the start of a name picks the first match (flute: the first flute)")
    p.add_argument("--xy", nargs=2, type=float, metavar=("X", "Y"),
                   help="XY pad position in [0,1]^2 with 4 sources at the corners (0,0),(1,0),(0,1),(1,1)")
    p.add_argument("--slerp", action="store_true", help="spherical interpolation between exactly 2 sources")
    p.add_argument("--ramp", action="append", metavar="T:W1,W2,...",
                   help="weights at time T seconds (one per source); repeat for a morph over the note")
    p.add_argument("--knob", action="append", metavar="pcN=SD",
                   help="offset along the library's principal latent axis N, in standard deviations")
    p.add_argument("--pitch", type=int, required=True, help="MIDI key 21-108")
    p.add_argument("--velocity", type=int, default=100, help="MIDI velocity 1-127 (default 100)")
    p.add_argument("--out", required=True, help="WAV file to write")
    p.add_argument("--phase", default="fast", help="phase method: fast, quality, gl, griffinlim, pghi (default fast)")
    p.add_argument("--iters", type=int, help="phase iterations (default: the method's)")
    p.add_argument("--duration", type=float, help="length in seconds: longer holds (looped), shorter fades out")
    p.add_argument("--rate", type=int, default=48000, help="output sample rate in Hz (default 48000)")
    p.add_argument("--normalize", action="store_true",
                   help="scale the note to a peak of -1 dBFS (default: the level the model decodes)")
    p.add_argument("--device", default="cpu", help="torch device for the model (default cpu)")
    p.set_defaults(run=run)


def parse_source(text: str) -> tuple[str, float]:
    name, sep, weight = text.rpartition(":")
    if not sep:
        return text, 1.0
    try:
        w = float(weight)
    except ValueError:
        raise MorphsynthError(f"--source {text}: weight '{weight}' is not a number") from None
    if not name:
        raise MorphsynthError(f"--source {text}: missing source name")
    if not math.isfinite(w) or w < 0:
        raise MorphsynthError(f"--source {text}: weight must be a finite number >= 0")
    return name, w


def parse_ramp(texts: list[str], n_sources: int) -> tuple:
    points = []
    for text in texts:
        t, sep, ws = text.partition(":")
        try:
            time_s = float(t)
            weights = tuple(float(w) for w in ws.split(","))
        except ValueError:
            raise MorphsynthError(f"--ramp {text}: expected T:W1,W2,... with numbers") from None
        if not sep or len(weights) != n_sources:
            raise MorphsynthError(f"--ramp {text}: needs {n_sources} weight(s), one per --source")
        points.append((time_s, weights))
    return tuple(sorted(points, key=lambda p: p[0]))


def parse_knobs(texts: list[str]) -> tuple[float, ...]:
    values: dict[int, float] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        if not sep or not name.startswith("pc") or not name[2:].isdigit() or int(name[2:]) < 1:
            raise MorphsynthError(f"--knob {text}: expected pcN=SD (e.g. pc1=1.5)")
        try:
            values[int(name[2:])] = float(value)
        except ValueError:
            raise MorphsynthError(f"--knob {text}: '{value}' is not a number") from None
    if not values:
        return ()
    return tuple(values.get(i, 0.0) for i in range(1, max(values) + 1))


def check_writable(path: Path) -> None:
    if path.is_dir():
        raise MorphsynthError(f"--out {path}: is a folder")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise MorphsynthError(f"--out {path}: folder {parent} does not exist")
    import os

    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise MorphsynthError(f"--out {path}: not writable")


def check_synth_options(args) -> None:
    """``--rate`` and ``--device``, checked before a model loads."""
    import torch

    from morphsynth.server.renderer import OUT_RATES

    if args.rate not in OUT_RATES:
        raise MorphsynthError(f"--rate {args.rate}: must be one of {', '.join(map(str, OUT_RATES))}")
    try:
        torch.device(args.device)
    except RuntimeError:
        raise MorphsynthError(f"--device {args.device}: not a torch device") from None


def build_morph(args):
    from morphsynth.server.morph import Morph, xy_weights

    parsed = [parse_source(s) for s in args.source]
    names = tuple(n for n, _ in parsed)
    weights = tuple(w for _, w in parsed)
    if args.xy is not None:
        if len(names) != 4:
            raise MorphsynthError(f"--xy: needs exactly 4 --source (the corners), got {len(names)}")
        if any(":" in s for s in args.source):
            raise MorphsynthError("--xy: the position sets the weights; give --source without :WEIGHT")
        if args.slerp or args.ramp:
            raise MorphsynthError("--xy: cannot be combined with --slerp or --ramp")
        x, y = args.xy
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise MorphsynthError(f"--xy {x} {y}: position must lie in [0, 1]")
        weights = xy_weights(x, y)
    if args.slerp and len(names) != 2:
        raise MorphsynthError(f"--slerp: needs exactly 2 --source, got {len(names)}")
    ramp = parse_ramp(args.ramp, len(names)) if args.ramp else ()
    if ramp and any(":" in s for s in args.source):
        raise MorphsynthError("--ramp: the ramp sets the weights; give --source without :WEIGHT")
    if ramp:
        # The static weights are unused under a ramp; any valid ones keep the morph well-formed.
        weights = ramp[0][1] if sum(ramp[0][1]) > 0 else (1.0,) * len(names)
    elif sum(weights) <= 0:
        raise MorphsynthError("--source: weights are all zero")
    knobs = parse_knobs(args.knob) if args.knob else ()
    return Morph(names, weights, "slerp" if args.slerp else "linear", knobs, ramp).validate()


def run(args) -> int:
    from morphsynth.server.library import PITCH_MAX, PITCH_MIN

    # Everything the user typed is checked before the model loads.
    if not PITCH_MIN <= args.pitch <= PITCH_MAX:
        raise MorphsynthError(f"--pitch {args.pitch}: must be a MIDI key {PITCH_MIN}-{PITCH_MAX}")
    if not 1 <= args.velocity <= 127:
        raise MorphsynthError(f"--velocity {args.velocity}: must be 1-127")
    if args.duration is not None and not (math.isfinite(args.duration) and 0 < args.duration <= 600):
        raise MorphsynthError(f"--duration {args.duration}: must be > 0 and <= 600 s")
    if args.iters is not None and args.iters < 0:
        raise MorphsynthError(f"--iters {args.iters}: must be >= 0")
    out = Path(args.out)
    check_writable(out)
    morph = build_morph(args)

    import numpy as np
    import soundfile as sf

    from morphsynth import Synth

    check_synth_options(args)
    with Synth(args.model, args.library, sample_rate=args.rate, phase=args.phase, n_iter=args.iters,
               device=args.device) as synth:
        morph = synth.renderer.check_morph(morph)
        audio = synth.render(morph, args.pitch, args.velocity, args.duration)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if args.normalize and peak > 0:
        audio = audio * (10 ** (-1 / 20) / peak)
    elif peak > 0.999:
        # Phase reconstruction can overshoot the decoded level; never write a clipped file.
        audio = audio * (0.99 / peak)
    try:
        sf.write(str(out), audio, args.rate, subtype="PCM_24")
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise MorphsynthError(f"--out {out}: cannot write ({str(exc).splitlines()[0]})") from None
    if morph.ramp:
        mix = "ramp " + " → ".join(f"{t:g} s [{','.join(f'{w:.3g}' for w in ws)}]" for t, ws in morph.ramp) \
            + " over " + ", ".join(morph.sources)
    else:
        mix = " + ".join(f"{n}:{w:.3g}" for n, w in zip(morph.sources, morph.normalised()))
    print(f"wrote {out}: {audio.size / args.rate:.2f} s at {args.rate} Hz, pitch {args.pitch}, "
          f"velocity {args.velocity}, {mix}{' (slerp)' if morph.interp == 'slerp' else ''}")
    return 0

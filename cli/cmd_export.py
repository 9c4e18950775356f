"""`morphsynth export`: render a morph (or an XY grid of morphs) into an instrument for any sampler."""

from __future__ import annotations

import math
from pathlib import Path

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth export --source flute --source cello:0.5 --out flute_cello --format sfz
  morphsynth export --corners bass brass flute guitar --xy 0.3 0.7 --keys 21-108/3 --velocities 40,80,120 --out pad
  morphsynth export --corners bass brass flute guitar --grid 3 --keys 36-96/6 --out pad_grid   # 9 instruments + a CC1/CC2 grid
  morphsynth export --source organ --format sf2 --out organ          # needs Polyphone
  morphsynth export --source organ --format wav --sample-format float --rate 44100 --out organ_wavs
"""


def add_parser(sub) -> None:
    p = subcommand(sub, "export", help="export a morph as a sampler instrument (SFZ, SF2 or WAVs)",
                   description="Render a morph across the keyboard and velocity layers and write the notes as WAV "
                               "files with an .sfz that maps them (keys between rendered ones transpose the "
                               "nearest sample; each note loops while held), a SoundFont, or a plain index.",
                   examples=EXAMPLES)
    p.add_argument("--model", help="model folder (default: $MORPHSYNTH_MODEL or the shipped models/default)")
    p.add_argument("--library", help="latent library (default: MODEL/library.safetensors)")
    p.add_argument("--source", action="append", metavar="NAME[:WEIGHT]",
                   help="a library source and its weight (default 1); repeat to mix (as in morphsynth render)")
    p.add_argument("--slerp", action="store_true", help="spherical interpolation between exactly 2 sources")
    p.add_argument("--corners", nargs=4, metavar=("A", "B", "C", "D"),
                   help="four sources at the XY corners (0,0) (1,0) (0,1) (1,1), for --xy or --grid")
    p.add_argument("--xy", nargs=2, type=float, metavar=("X", "Y"), help="XY position in [0,1]^2 between --corners")
    p.add_argument("--grid", type=int, metavar="N",
                   help="export N x N instruments over the XY square of --corners (N 2-9), plus one "
                        "_grid.sfz in which CC1 (x) and CC2 (y) choose among them")
    p.add_argument("--knob", action="append", metavar="pcN=SD",
                   help="offset along the library's principal latent axis N, in standard deviations")
    p.add_argument("--out", required=True, help="folder to write the instrument into (made if missing)")
    p.add_argument("--name", help="instrument file name (default: the --out folder's name)")
    p.add_argument("--format", default="sfz", help="sfz (default), sf2 (through Polyphone) or wav (WAVs and index.json)")
    p.add_argument("--keys", default="21-108/3",
                   help="keys to render: LO-HI, LO-HI/STEP (every STEP-th key, and HI) or keys joined by "
                        "commas (default 21-108/3)")
    p.add_argument("--velocities", help="velocity layers, e.g. 40,80,120 (default: the library's velocities)")
    p.add_argument("--sample-format", default="24", help="WAV samples: 24 (24-bit PCM, default) or float")
    p.add_argument("--rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    p.add_argument("--phase", default="fast", help="phase method: fast, quality, gl, griffinlim, pghi (default fast)")
    p.add_argument("--device", default="cpu", help="torch device for the model (default cpu)")
    p.set_defaults(run=run)


def build_voicings(args):
    """The instruments to export, from the command line's morph options (checked before the model loads)."""
    from morphsynth.cmd_render import build_morph, parse_knobs
    from morphsynth.server import export
    from morphsynth.server.morph import Morph, xy_weights

    knobs = parse_knobs(args.knob) if args.knob else ()
    name = args.name or Path(args.out).resolve().name
    if args.corners:
        if args.source or args.slerp:
            raise MorphsynthError("--corners: give either --corners or --source, not both")
        if (args.xy is None) == (args.grid is None):
            raise MorphsynthError("--corners: needs one of --xy X Y or --grid N")
        if args.grid is not None:
            return export.grid(name, args.corners, args.grid, knobs)
        x, y = args.xy
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise MorphsynthError(f"--xy {x} {y}: position must lie in [0, 1]")
        return export.single(name, Morph(tuple(args.corners), xy_weights(x, y), knobs=knobs).validate())
    if args.xy is not None or args.grid is not None:
        raise MorphsynthError("--xy/--grid: need the four --corners A B C D")
    if not args.source:
        raise MorphsynthError("export: give --source NAME[:WEIGHT] (repeatable) or --corners A B C D")
    args.ramp = None
    return export.single(name, build_morph(args))


def run(args) -> int:
    from morphsynth.server import export

    # Everything the user typed is checked before the model loads.
    export.check_format(args.format, args.sample_format)
    keys = export.parse_keys(args.keys)
    velocities = export.parse_velocities(args.velocities) if args.velocities else None
    voicings = build_voicings(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise MorphsynthError(f"--out {out}: is a file, not a folder")

    from morphsynth import Synth
    from morphsynth.cmd_render import check_synth_options

    check_synth_options(args)
    shown = [-1]

    def progress(done: int, all_notes: int) -> None:
        step = math.floor(10 * done / max(all_notes, 1))
        if step != shown[0]:
            shown[0] = step
            print(f"rendering: {done}/{all_notes} notes", flush=True)

    with Synth(args.model, args.library, sample_rate=args.rate, phase=args.phase, device=args.device,
               cache_mb=16) as synth:
        library = synth.library
        layers = export.layers_for(velocities or library.known_velocities, library.nearest_velocity)
        total = len(voicings) * len(keys) * len(layers)
        written = export.export_instruments(synth.renderer, voicings, out, args.format, keys, velocities,
                                            args.sample_format, progress)
    described = ", ".join(f"{layer.lovel}-{layer.hivel} (library velocity {layer.velocity})" for layer in layers)
    print(f"wrote {len(written)} file(s) to {out}: {total} notes at {args.rate} Hz, {len(keys)} keys "
          f"({keys[0]}-{keys[-1]}), velocity layers {described}")
    for path in written:
        print(f"  {path}")
    return 0

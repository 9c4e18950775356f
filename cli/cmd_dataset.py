"""`morphsynth dataset`: build NSynth-layout note datasets (SoundFonts, own samples) and list them."""

from __future__ import annotations

import argparse

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth dataset soundfont --sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2 --out data/fluid
  morphsynth dataset soundfont --sf2 /usr/share/sounds/sf2/FluidR3_GM.sf2 \\
      --sf2 /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 \\
      --test-sf2 /usr/share/sounds/sf2/TimGM6mb.sf2 --out data/gm --workers 2
  morphsynth dataset soundfont --sf2 FluidR3_GM.sf2 --out data/small --programs 0,24,40-42,73 \\
      --pitches 36-84 --pitch-step 2 --velocities 50,100 --seed 1
  morphsynth dataset folder --in my_samples --out data/mine        # cello_C#3_v100.wav ...
  morphsynth dataset folder --in my_samples --manifest notes.csv --out data/mine --split seeded
  morphsynth dataset info data/fluid
"""


def add_parser(sub) -> None:
    p = subcommand(
        sub, "dataset", help="build note datasets in the NSynth layout",
        description="Build datasets of single notes in the NSynth layout (nsynth-train/valid/test, "
                    "examples.json + audio/<note_str>.wav, 4 s at 16 kHz) from General MIDI "
                    "SoundFonts or from your own samples.",
        examples=EXAMPLES)
    p.set_defaults(run=run)
    kinds = p.add_subparsers(dest="dataset_command", metavar="SOURCE")

    sf = kinds.add_parser(
        "soundfont", help="render notes from General MIDI SoundFonts with FluidSynth",
        description="Render notes (3 s hold, 1 s release) from General MIDI SoundFonts. An instrument is "
                    "one (SoundFont, program); its family comes from the GM program group; splits are "
                    "instrument-disjoint and seeded. Notes keep FluidSynth's level (gain 0.5, never "
                    "normalised) so velocity stays meaningful; near-silent renders are skipped. "
                    "Re-running resumes; finished notes are kept.",
        epilog="examples:\n" + EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sf.add_argument("--sf2", action="append", default=[], metavar="FILE",
                    help="SoundFont (.sf2/.sf3); repeat for several")
    sf.add_argument("--test-sf2", action="append", default=[], metavar="FILE",
                    help="SoundFont whose every instrument goes to nsynth-test (an outside test set); repeatable")
    sf.add_argument("--valid-sf2", action="append", default=[], metavar="FILE",
                    help="SoundFont whose every instrument goes to nsynth-valid; repeatable")
    sf.add_argument("--train-sf2", action="append", default=[], metavar="FILE",
                    help="SoundFont whose every instrument goes to nsynth-train; repeatable")
    sf.add_argument("--out", required=True, metavar="DIR", help="dataset root (created; resumed if present)")
    sf.add_argument("--programs", metavar="LIST",
                    help="GM programs, e.g. 0-7,24,40-45 (default: every pitched program; left out "
                         "unless named: 55, 96-103, 113, 115-121; 122-127 refused)")
    sf.add_argument("--pitches", default="21-108", metavar="A-B", help="MIDI pitch range (default 21-108)")
    sf.add_argument("--pitch-step", type=int, default=1, metavar="N",
                    help="render every N-th semitone from A (default 1)")
    sf.add_argument("--velocities", default="25,50,75,100,127", metavar="LIST",
                    help="MIDI velocities (default 25,50,75,100,127)")
    sf.add_argument("--velocities-per-pitch", type=int, metavar="K",
                    help="render only K of the velocities at each pitch, rotating along the keyboard "
                         "(default: all at every pitch)")
    sf.add_argument("--bend-cents", type=float, default=0.0, metavar="C",
                    help="hold the pitch wheel at a seeded random offset within ±C cents for each note "
                         "(0-200; default 0: notes exactly on their keys)")
    sf.add_argument("--valid-fraction", type=float, default=0.1, metavar="F",
                    help="share of instruments in nsynth-valid (default 0.1)")
    sf.add_argument("--test-fraction", type=float, default=0.1, metavar="F",
                    help="share of the other instruments in nsynth-test (default 0.1)")
    sf.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    sf.add_argument("--workers", type=int, default=1, metavar="N",
                    help="rendering processes, one FluidSynth each (default 1)")
    sf.add_argument("--silence-db", type=float, default=-70.0, metavar="DB",
                    help="skip notes peaking below this level in dBFS (default -70)")
    sf.add_argument("--max-cents", type=float, metavar="C",
                    help="also skip notes whose measured fundamental is more than C cents from the "
                         "MIDI pitch (default: keep; organs and some leads sound an octave off by design)")
    sf.add_argument("--quiet", action="store_true", help="no progress bar")
    sf.set_defaults(run=run_soundfont)

    fo = kinds.add_parser(
        "folder", help="import your own one-note samples (WAV/FLAC/AIFF)",
        description="Import one-note samples. Pitch from a note name in the file name "
                    "(cello_C#3_v100.wav: C4 = 60, velocity from v100, default 100) or from a CSV "
                    "manifest with columns file,pitch[,velocity][,instrument][,family][,source] "
                    "(manifest.csv in the input folder is used automatically). Audio is resampled to "
                    "16 kHz, leading silence trimmed, cut or padded to 4 s.",
        epilog="examples:\n" + EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    fo.add_argument("--in", dest="input", required=True, metavar="DIR", help="folder of samples")
    fo.add_argument("--out", required=True, metavar="DIR", help="dataset root (created or added to)")
    fo.add_argument("--manifest", metavar="CSV", help="CSV manifest (default: DIR/manifest.csv if present)")
    fo.add_argument("--split", default="train", choices=["train", "valid", "test", "seeded"],
                    help="where new instruments go (default train; seeded: instrument-disjoint split)")
    fo.add_argument("--valid-fraction", type=float, default=0.1, metavar="F", help="with --split seeded")
    fo.add_argument("--test-fraction", type=float, default=0.1, metavar="F", help="with --split seeded")
    fo.add_argument("--seed", type=int, default=0, help="with --split seeded (default 0)")
    fo.add_argument("--family", default="keyboard",
                    help="NSynth family when the instrument name does not tell (default keyboard)")
    fo.add_argument("--source", default="acoustic", choices=["acoustic", "electronic", "synthetic"],
                    help="NSynth instrument source when the manifest does not tell (default acoustic)")
    fo.set_defaults(run=run_folder)

    info = kinds.add_parser("info", help="count notes, instruments and families per split",
                            description="Summarise an NSynth-layout dataset (also the real NSynth download).",
                            epilog="examples:\n" + EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    info.add_argument("root", metavar="DIR", help="dataset root or one nsynth-* folder")
    info.set_defaults(run=run_info)


def run_soundfont(args) -> int:
    from morphsynth.training.dataset_soundfont import (build_soundfont_dataset, parse_int_list,
                                                      parse_pitch_range)

    whole = {}
    for split in ("train", "valid", "test"):
        for path in getattr(args, f"{split}_sf2"):
            if path in whole and whole[path] != split:
                raise MorphsynthError(f"{path}: given for both --{whole[path]}-sf2 and --{split}-sf2")
            whole[path] = split
    if not args.sf2 and not whole:
        raise MorphsynthError("--sf2: give at least one SoundFont")
    programs = parse_int_list(args.programs, "--programs", 0, 127) if args.programs else None
    velocities = parse_int_list(args.velocities, "--velocities", 1, 127)
    report = build_soundfont_dataset(
        args.sf2, args.out, programs=programs, pitches=parse_pitch_range(args.pitches),
        pitch_step=args.pitch_step, velocities=velocities, whole_sf2=whole,
        valid_fraction=args.valid_fraction, test_fraction=args.test_fraction, seed=args.seed,
        workers=args.workers, silence_db=args.silence_db, max_cents=args.max_cents,
        velocities_per_pitch=args.velocities_per_pitch, bend_cents=args.bend_cents, progress=not args.quiet)
    print(f"{args.out}: {report.summary()}")
    return 0


def run_folder(args) -> int:
    from morphsynth.training.dataset_folder import import_folder

    report = import_folder(args.input, args.out, manifest=args.manifest, split=args.split, seed=args.seed,
                           valid_fraction=args.valid_fraction, test_fraction=args.test_fraction,
                           default_family=args.family, default_source=args.source)
    print(f"{args.out}: {report.summary()}")
    return 0


def run_info(args) -> int:
    from morphsynth.training.nsynth import describe

    print(describe(args.root))
    return 0


def run(args) -> int:
    """``morphsynth dataset`` without a source: the subcommands carry their own ``run``."""
    raise MorphsynthError("dataset: choose a source: soundfont, folder or info (see morphsynth dataset --help)")

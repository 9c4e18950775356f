"""`morphsynth library`: build, extend and list latent libraries."""

from __future__ import annotations

import argparse
from pathlib import Path

from morphsynth.core.errors import MorphsynthError
from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth library build --model models/default --data data/fluid --out lib.safetensors
  morphsynth library build --model models/default --data data/gm --data data/timgm --out models/default/library.safetensors
  morphsynth library build --model runs/cae --data data/fluid/nsynth-test --velocity 100 --pitch-step 3 --out test.safetensors
  morphsynth library add --library lib.safetensors --model models/default --audio my_cello.wav --name mycello
  morphsynth library add --library lib.safetensors --audio whistle.flac --name whistle --pitch 79
  morphsynth library list
  morphsynth library list --library lib.safetensors
"""


def add_parser(sub) -> None:
    p = subcommand(sub, "library", help="build, extend and list latent libraries",
                   description="A latent library holds one latent per (instrument, pitch, velocity) note, "
                               "encoded by one model; the renderer mixes its sources.",
                   examples=EXAMPLES)
    p.set_defaults(run=lambda args: (p.print_help(), 2)[1])
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    lines = EXAMPLES.splitlines(keepends=True)

    def action(name: str, help: str, description: str):
        mine = "".join(line for line in lines if f"library {name} " in line or line.rstrip().endswith(f"library {name}"))
        return actions.add_parser(name, help=help, description=description, epilog="examples:\n" + mine,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)

    b = action("build", help="encode every note of an NSynth-layout folder",
                           description="Encode every note of an NSynth-layout folder (all splits under DIR, "
                                       "or one split folder) into a library.")
    b.add_argument("--model", required=True, help="model folder")
    b.add_argument("--data", required=True, action="append",
                   help="dataset root (nsynth-*/ inside) or one split folder; repeat to combine datasets")
    b.add_argument("--out", required=True, help="library file to write (.safetensors)")
    b.add_argument("--velocity", type=int, action="append", help="keep only this velocity (repeatable)")
    b.add_argument("--pitch-step", type=int, default=1, help="keep every Nth pitch (from MIDI 21) to shrink the file")
    b.add_argument("--batch-size", type=int, default=16, help="notes per encoder batch (default 16)")
    b.add_argument("--device", default="cpu", help="torch device (default cpu)")
    b.set_defaults(run=run_build)

    a = action("add", help="encode a note from an audio file as a new source",
                           description="Read a note (any rate, mono or stereo), resample to the model rate, "
                                       "trim leading silence, fit to 4 s, detect its pitch unless given, "
                                       "encode it and save the library.")
    a.add_argument("--library", help="library to extend (default: the one in the default model folder)")
    a.add_argument("--model", help="the library's model folder (default: $MORPHSYNTH_MODEL or the shipped models/default)")
    a.add_argument("--audio", required=True, help="sound file holding one note")
    a.add_argument("--name", required=True, help="source name for the note")
    a.add_argument("--pitch", type=int, help="MIDI pitch of the note (default: detected)")
    a.add_argument("--out", help="write the extended library here instead of in place")
    a.set_defaults(run=run_add)

    ls = action("list", help="print the sources of a library",
                description="Print each source of a library: name, family, pitches, velocities.")
    ls.add_argument("--library", help="library file (default: the one in the default model folder)")
    ls.set_defaults(run=run_list)


def _pitch_ranges(pitches: list[int]) -> str:
    """'36-84/3' style summary of a pitch list."""
    if not pitches:
        return "-"
    if len(pitches) == 1:
        return str(pitches[0])
    steps = {b - a for a, b in zip(pitches, pitches[1:])}
    if len(steps) == 1:
        step = steps.pop()
        return f"{pitches[0]}-{pitches[-1]}" + (f"/{step}" if step > 1 else "")
    return ",".join(map(str, pitches))


def run_list(args) -> int:
    from morphsynth.core.synth_model import default_model_dir
    from morphsynth.server.library import LIBRARY_FILE, Library

    lib = Library.load(Path(args.library) if args.library else default_model_dir() / LIBRARY_FILE)
    rows = lib.describe()
    width = max(len("name"), *(len(r["name"]) for r in rows))
    fwidth = max(len("family"), *(len(r["family"]) for r in rows))
    print(f"{'name':<{width}}  {'family':<{fwidth}}  {'pitches':<16}  velocities")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['family']:<{fwidth}}  {_pitch_ranges(r['pitches']):<16}  "
              f"{','.join(map(str, r['velocities']))}")
    print(f"{len(rows)} sources, {lib.latents.shape[0]} notes, latent_dim {lib.latent_dim}, "
          f"model {lib.model_name or '?'} {lib.model_hash[:12]}")
    return 0


def run_build(args) -> int:
    import torch

    from morphsynth.core.malloc import pin_mmap_threshold
    from morphsynth.server.library import NoteEntry, build_library
    from morphsynth.training.nsynth import NoteFilter, list_examples
    from morphsynth.core.synth_model import load_synth_model

    if args.pitch_step < 1:
        raise MorphsynthError(f"--pitch-step {args.pitch_step}: must be >= 1")
    if args.batch_size < 1:
        raise MorphsynthError(f"--batch-size {args.batch_size}: must be >= 1")
    for v in args.velocity or ():
        if not 1 <= v <= 127:
            raise MorphsynthError(f"--velocity {v}: must be 1-127")
    out = Path(args.out)
    if out.is_dir():
        raise MorphsynthError(f"--out {out}: is a folder")
    if not out.parent.is_dir():
        raise MorphsynthError(f"--out {out}: folder {out.parent} does not exist")
    pin_mmap_threshold()      # one process encodes tens of thousands of notes: see core.malloc
    model = load_synth_model(args.model, device=torch.device(args.device))
    examples = [ex for data in args.data
                for ex in list_examples(data, note_filter=NoteFilter(velocities=args.velocity))]
    examples = [ex for ex in examples if (ex.pitch - 21) % args.pitch_step == 0]
    if not examples:
        raise MorphsynthError(f"--data {' '.join(args.data)}: no notes left to encode (check --velocity/--pitch-step)")
    n_samples = model.stft.n_samples(model.n_frames)
    for ex in examples[:1]:
        if ex.sample_rate != model.stft.sample_rate:
            raise MorphsynthError(f"{ex.audio_path}: {ex.sample_rate} Hz, the model expects {model.stft.sample_rate} Hz")
    notes = (NoteEntry(ex.instrument_str, ex.family_str, ex.pitch, ex.velocity, ex.load_audio(n_samples),
                       ex.bend_cents) for ex in examples)
    step = max(1, len(examples) // 10)

    def progress(done: int) -> None:
        if done % step < args.batch_size or done == len(examples):
            print(f"  encoded {done}/{len(examples)} notes", flush=True)

    lib = build_library(model, notes, batch_size=args.batch_size, progress=progress)
    lib.save(out)
    print(f"wrote {out}: {len(lib.names)} sources, {lib.latents.shape[0]} notes, "
          f"model {lib.model_name} {lib.model_hash[:12]}")
    return 0


def run_add(args) -> int:
    from morphsynth import Synth
    from morphsynth.core.synth_model import default_model_dir
    from morphsynth.server.library import LIBRARY_FILE

    lib_path = Path(args.library) if args.library else default_model_dir() / LIBRARY_FILE
    if args.pitch is not None and not 21 <= args.pitch <= 108:
        raise MorphsynthError(f"--pitch {args.pitch}: must be a MIDI key 21-108")
    out = Path(args.out) if args.out else lib_path
    with Synth(args.model, lib_path) as synth:
        pitch = synth.add(args.audio, args.name, args.pitch)
        synth.save_library(out)
        count = len(synth.sources)
    how = "given" if args.pitch is not None else "detected"
    print(f"added '{args.name}' (pitch {pitch}, {how}) to {out}: {count} sources")
    return 0

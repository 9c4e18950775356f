"""`morphsynth eval`: metrics, report.md and figures for a run's CAE and its baselines."""

from __future__ import annotations

from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth eval --model models/default --data data/gm/nsynth-test --out reports/default
  morphsynth eval --model models/default --data data/timgm/nsynth-test --out reports/timgm --max-notes 200
  morphsynth eval --model runs/d16 --data data/gm/nsynth-test --out /tmp/r --pitch none   # spectra only
  morphsynth eval --model runs/d16 --data data/gm/nsynth-test --out /tmp/r --grid 21-108:1   # trained on every key
  # a keyboard sweep: every key of 4 TimGM6mb programs at velocity 100
  morphsynth dataset soundfont --sf2 /usr/share/sounds/sf2/TimGM6mb.sf2 --programs 0,24,40,73 \\
      --pitches 36-84 --velocities 100 --valid-fraction 0 --test-fraction 0 --out data/sweep
  morphsynth eval --model models/default --data data/gm/nsynth-test --out reports/sweep \\
      --sweep-data data/sweep --sweep-ref-key 60 --sweep-instruments 4
"""


def add_parser(sub) -> None:
    p = subcommand(sub, "eval", help="evaluate a model and its baselines on held-out notes",
                   description="Reconstruct held-out notes with the CAE in --model and the baselines in "
                               "--model/baselines/, measure LSD, spectral convergence, multi-resolution log-mel "
                               "distance, level difference, pitch accuracy of the rendered audio and 50/50 "
                               "interpolations, overall, per note group (on the training grid, off it, bent "
                               "between keys) and per key, and write metrics.json, report.md and PNG figures "
                               "to --out. With --sweep-data, also encode one note per instrument of that dataset "
                               "and decode it at every key the instrument has (the CAE and PCA).",
                   examples=EXAMPLES)
    p.add_argument("--model", required=True, help="model or run folder (baselines/ inside it are evaluated too)")
    p.add_argument("--data", required=True, help="a split folder (DIR/nsynth-test) or a dataset root (its test split)")
    p.add_argument("--out", required=True, help="report folder to write")
    p.add_argument("--max-notes", type=int, default=300, help="seeded subset of notes (default 300; 0 = all)")
    p.add_argument("--pitch-notes", type=int, default=120,
                   help="notes rendered to audio for pitch accuracy, drawn from the note groups in turn "
                        "(default 120; 0 = all)")
    p.add_argument("--pairs", type=int, default=40, help="interpolation pairs (default 40)")
    p.add_argument("--phase", default="fast", help="phase reconstruction mode for audio (default fast)")
    p.add_argument("--pitch", default="crepe", choices=["crepe", "autocorrelation", "none"],
                   help="f0 estimator for pitch accuracy (default crepe, its tiny model)")
    p.add_argument("--grid", default="24-96:6", metavar="A-B:STEP",
                   help="the keys the model was trained on, every STEP-th from A to B: notes there are "
                        "'on grid', other unbent notes 'off grid' (default 24-96:6)")
    p.add_argument("--sweep-data", metavar="DIR",
                   help="keyboard sweep dataset (root or split folder; all splits of a root); default: no sweep")
    p.add_argument("--sweep-ref-key", type=int, default=60, metavar="KEY",
                   help="encode each instrument's note nearest this key (default 60)")
    p.add_argument("--sweep-instruments", type=int, default=8, metavar="N",
                   help="at most N instruments in the sweep, a seeded subset (default 8; 0 = all). Each costs "
                        "one phase reconstruction and one CREPE run per key for its originals and for each model")
    p.add_argument("--library", metavar="FILE",
                   help="library of the model for the library-add check (default: MODEL/library.safetensors "
                        "when present)")
    p.add_argument("--library-notes", type=int, default=24, metavar="N",
                   help="notes of --data added to the library at --library-peak-dbfs and rendered back at "
                        "their own key and velocity (default 24; 0 = skip)")
    p.add_argument("--library-peak-dbfs", type=float, default=-2.0, metavar="DB",
                   help="peak level of the files added (default -2 dBFS)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default cpu)")
    p.set_defaults(run=run)


def run(args) -> int:
    from morphsynth.core.errors import MorphsynthError
    from morphsynth.training.evaluate import evaluate, load_eval_notes, models_in_run, parse_grid

    for name in ("max_notes", "pitch_notes", "pairs", "sweep_instruments", "library_notes"):
        if getattr(args, name) < 0:
            raise MorphsynthError(f"--{name.replace('_', '-')}: must be >= 0")
    if not 0 <= args.sweep_ref_key <= 127:
        raise MorphsynthError(f"--sweep-ref-key {args.sweep_ref_key}: expected a MIDI key 0-127")
    parse_grid(args.grid)  # fail before loading anything
    if not -60.0 <= args.library_peak_dbfs <= 0.0:
        raise MorphsynthError(f"--library-peak-dbfs {args.library_peak_dbfs}: expected -60 to 0")
    from pathlib import Path

    from morphsynth.server.library import LIBRARY_FILE

    library = Path(args.library) if args.library else Path(args.model) / LIBRARY_FILE
    if args.library and not library.is_file():
        raise MorphsynthError(f"--library {library}: not found")
    models = models_in_run(args.model, device=args.device)
    notes = load_eval_notes(args.data, args.max_notes or None, args.seed)
    print(f"evaluating {', '.join(models)} on {len(notes)} notes of {args.data}")
    evaluate(models, notes, args.out, n_pairs=args.pairs, phase=args.phase, pitch_method=args.pitch,
             pitch_notes=args.pitch_notes or None, seed=args.seed, title=f"Evaluation of {args.model} on {args.data}",
             grid=args.grid, sweep_data=args.sweep_data, sweep_ref_key=args.sweep_ref_key,
             sweep_instruments=args.sweep_instruments or None,
             library=library if library.is_file() else None, library_data=args.data,
             library_notes=args.library_notes, library_peak_dbfs=args.library_peak_dbfs)
    print(f"wrote {args.out}/metrics.json and report.md")
    return 0

"""`morphsynth eval`: metrics, report.md and figures for a run's CAE and its baselines."""

from __future__ import annotations

from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth eval --model models/default --data data/gm/nsynth-test --out reports/default
  morphsynth eval --model models/default --data data/timgm/nsynth-test --out reports/timgm --max-notes 200
  morphsynth eval --model runs/d16 --data data/gm/nsynth-test --out /tmp/r --pitch none   # spectra only
"""


def add_parser(sub) -> None:
    p = subcommand(sub, "eval", help="evaluate a model and its baselines on held-out notes",
                   description="Reconstruct held-out notes with the CAE in --model and the baselines in "
                               "--model/baselines/, measure LSD, spectral convergence, pitch accuracy of the "
                               "rendered audio and 50/50 interpolations, and write metrics.json, report.md and "
                               "PNG figures to --out.",
                   examples=EXAMPLES)
    p.add_argument("--model", required=True, help="model or run folder (baselines/ inside it are evaluated too)")
    p.add_argument("--data", required=True, help="a split folder (DIR/nsynth-test) or a dataset root (its test split)")
    p.add_argument("--out", required=True, help="report folder to write")
    p.add_argument("--max-notes", type=int, default=300, help="seeded subset of notes (default 300; 0 = all)")
    p.add_argument("--pitch-notes", type=int, default=120,
                   help="notes rendered to audio for pitch accuracy (default 120; 0 = all)")
    p.add_argument("--pairs", type=int, default=40, help="interpolation pairs (default 40)")
    p.add_argument("--phase", default="fast", help="phase reconstruction mode for audio (default fast)")
    p.add_argument("--pitch", default="crepe", choices=["crepe", "autocorrelation", "none"],
                   help="f0 estimator for pitch accuracy (default crepe)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default cpu)")
    p.set_defaults(run=run)


def run(args) -> int:
    from morphsynth.errors import MorphsynthError
    from morphsynth.training.evaluate import evaluate, load_eval_notes, models_in_run

    for name in ("max_notes", "pitch_notes", "pairs"):
        if getattr(args, name) < 0:
            raise MorphsynthError(f"--{name.replace('_', '-')}: must be >= 0")
    models = models_in_run(args.model, device=args.device)
    notes = load_eval_notes(args.data, args.max_notes or None, args.seed)
    print(f"evaluating {', '.join(models)} on {len(notes)} notes of {args.data}")
    evaluate(models, notes, args.out, n_pairs=args.pairs, phase=args.phase, pitch_method=args.pitch,
             pitch_notes=args.pitch_notes or None, seed=args.seed, title=f"Evaluation of {args.model} on {args.data}")
    print(f"wrote {args.out}/metrics.json and report.md")
    return 0

"""`morphsynth train`: train the CAE (and the PCA / shallow-AE baselines) on an NSynth-layout dataset."""

from __future__ import annotations

from morphsynth.main import subcommand

EXAMPLES = """\
  morphsynth train --config configs/default.yaml --data data/gm --out models/default
  morphsynth train --config configs/default.yaml --data data/gm --out runs/d16 --resume
  morphsynth train --config configs/tiny.yaml --data data/gm --out /tmp/tiny --device cpu --no-progress
  torchrun --nproc_per_node=4 -m morphsynth train --config configs/nsynth-large.yaml --data data/nsynth --out runs/big
"""


def add_parser(sub) -> None:
    p = subcommand(sub, "train", help="train the autoencoder and its baselines",
                   description="Train the CAE on the train split of an NSynth-layout dataset, validating on its "
                               "valid split. The output folder is a loadable model folder (best weights) and holds "
                               "a resumable checkpoint, history.json, loss_curves.png and the baselines.",
                   examples=EXAMPLES)
    p.add_argument("--config", required=True, help="training config YAML (see configs/)")
    p.add_argument("--data", required=True, help="dataset root holding nsynth-train/ and nsynth-valid/")
    p.add_argument("--out", required=True, help="run folder to write (becomes a model folder)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--no-baselines", action="store_true", help="skip the PCA and shallow-AE baselines")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    p.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    import torch

    from morphsynth.core.config import load_config
    from morphsynth.training.distributed import device_for, init_from_env, shutdown
    from morphsynth.training.nsynth import NSynthDataset
    from morphsynth.core.device import pick_device
    from morphsynth.training.train import notes_from_dataset, train_run
    from morphsynth.training.train_config import TrainConfig

    config = load_config(args.config, TrainConfig)
    if args.no_baselines:
        config = dataclasses.replace(config, baselines=[])
    device = pick_device(args.device)
    dist = init_from_env(device.type)
    device = device_for(dist, device)
    log = print if dist.is_main else (lambda msg: None)
    try:
        show = not args.no_progress
        train_set = NSynthDataset(args.data, "train")
        valid_set = NSynthDataset(args.data, "valid")
        log(f"device {device}; {len(train_set)} train notes, {len(valid_set)} valid notes")
        train_notes = notes_from_dataset(train_set, config.max_train_notes, config.seed, progress=show and dist.is_main)
        valid_notes = notes_from_dataset(valid_set, config.max_valid_notes, config.seed, progress=show and dist.is_main)
        if device.type == "cuda":
            # The whole set fits on a GPU: no host-to-device copy per batch.
            train_notes, valid_notes = train_notes.to(device), valid_notes.to(device)
        torch.manual_seed(config.seed)
        summary = train_run(config, train_notes, valid_notes, args.out, device, resume=args.resume, dist=dist,
                            log=log, progress_bar=show)
        log(f"best valid LSD {summary['best_valid_lsd_db']:.2f} dB at epoch {summary['best_epoch']} "
            f"({summary['epochs']} epochs, {summary['elapsed_s'] / 60:.1f} min); model folder: {args.out}")
    finally:
        shutdown(dist)
    return 0

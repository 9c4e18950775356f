"""Model speed: training steps per second and encode/decode time per note and per 88 keys.

    .venv/bin/python benchmarks/bench_model.py [--config configs/default.yaml] [--threads 2] [--reps 3]

Prints one table per device (CPU; CUDA when available) for the CAE of the config and
its baselines at the same latent size, with the CAE's time over PCA's as the ratio.
Weights are random: speed does not depend on training.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def timed(fn, reps: int, sync) -> float:
    fn()  # warm-up (allocator, oneDNN primitive cache, CUDA kernels)
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_device(device: torch.device, config, reps: int) -> list[tuple]:
    from morphsynth.core.model import count_parameters
    from morphsynth.core.synth_model import as_synth_model, build_network

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rows = []
    latent = config.model.latent_dim
    for kind in ("cae", "pca", "shallow_ae"):
        torch.manual_seed(0)
        cfg = config.model if kind == "cae" else {"latent_dim": latent}
        net = build_network(kind, cfg).to(device)
        model = as_synth_model(net, kind, device=device)
        g = torch.Generator().manual_seed(0)
        mag88 = (torch.rand(88, 513, 251, generator=g) ** 4).to(device)
        pitch88 = torch.arange(21, 109, device=device)
        vel88 = torch.full((88,), 100, device=device)
        z88 = model.encode(mag88, pitch88, vel88)
        enc1 = timed(lambda: model.encode(mag88[:1], pitch88[:1], vel88[:1]), reps, sync)
        dec1 = timed(lambda: model.decode(z88[:1], pitch88[:1], vel88[:1]), reps, sync)
        enc88 = timed(lambda: model.encode(mag88, pitch88, vel88), reps, sync)
        dec88 = timed(lambda: model.decode(z88, pitch88, vel88), reps, sync)
        steps = {}
        if kind != "pca":
            precisions = [config.optim.precision] + (["fp32"] if kind == "cae" and config.optim.precision != "fp32" else [])
            for precision in precisions:
                steps[precision] = 1.0 / timed(train_step_fn(kind, cfg, config, precision, device), reps, sync)
        rows.append((kind, count_parameters(net), steps, enc1 * 1e3, dec1 * 1e3, enc88 * 1e3, dec88 * 1e3))
    return rows


def train_step_fn(kind: str, cfg, config, precision: str, device: torch.device):
    """One real optimiser step (``train.train_step``, the training layout and precision) on random notes."""
    from dataclasses import replace

    from morphsynth.core.synth_model import build_network
    from morphsynth.training.train import Progress, TrainState, train_step, training_layout

    net = training_layout(build_network(kind, cfg).to(device), device)
    optim = replace(config.optim, precision=precision, warmup_steps=0)
    state = TrainState(net, torch.optim.AdamW(net.parameters(), lr=1e-4), Progress(), optim, {"spec/mse": 1.0},
                       device)
    g = torch.Generator().manual_seed(1)
    logmag = torch.log(torch.rand(config.optim.batch_size, 513, 251, generator=g) ** 4 + 1e-4).to(device)
    pitch = torch.arange(40, 40 + config.optim.batch_size, device=device)
    velocity = torch.full_like(pitch, 100)
    return lambda: train_step(state, logmag, pitch, velocity)


def main() -> None:
    from morphsynth.core.config import load_config
    from morphsynth.training.train_config import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config, TrainConfig)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        label = f"{device.type} ({args.threads} threads)" if device.type == "cpu" else torch.cuda.get_device_name()
        print(f"\n{args.config}: latent {config.model.latent_dim}, batch {config.optim.batch_size}, {label}, "
              f"median of {args.reps}")
        print(f"{'model':<11} {'params':>10} {'train step/s':>13} {'enc ms/note':>12} {'dec ms/note':>12} "
              f"{'enc ms/88':>10} {'dec ms/88':>10} {'dec88 / pca':>12}")
        rows = bench_device(device, config, args.reps)
        pca_dec = next(r[6] for r in rows if r[0] == "pca")
        for kind, params, steps, e1, d1, e88, d88 in rows:
            for k, (precision, rate) in enumerate(steps.items() or [("", float("nan"))]):
                name = kind if len(steps) < 2 else f"{kind} {precision}"
                if k == 0:
                    print(f"{name:<11} {params:>10,} {rate:>13.2f} {e1:>12.1f} {d1:>12.1f} {e88:>10.0f} {d88:>10.0f} "
                          f"{d88 / pca_dec:>12.1f}")
                else:
                    print(f"{name:<11} {'':>10} {rate:>13.2f}")


if __name__ == "__main__":
    main()

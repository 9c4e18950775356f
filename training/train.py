"""The training loop: one readable function (:func:`fit`) over an explicit :class:`TrainState`.

Loss names (``spec/mse``, ``spec/l1``, ``spec/sc``) are the keys of the YAML
``loss:`` weights and of the logged history alike:

* ``spec/mse``, ``spec/l1``: on the normalised log magnitude, with the prediction
  clamped from below at the floor (log of 1e-4), so a decoder is not pushed around
  for what happens under the floor that the metrics ignore too;
* ``spec/sc``: spectral convergence of the linear magnitude, which weighs the
  spectral peaks that a log loss underrates.

A run folder written by :func:`train_run` is itself a model folder (best CAE
weights as ``model.safetensors`` + ``model.json``), with ``checkpoint/`` (resumable
state), ``history.json``, ``loss_curves.png``, ``config.yaml`` and, when asked,
``baselines/pca/`` and ``baselines/shallow_ae/`` (model folders too).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import write_json
from morphsynth.training.checkpoint import Progress, has_checkpoint, load_checkpoint, save_checkpoint
from morphsynth.training.distributed import (DistInfo, barrier, broadcast_flag, epoch_indices, replica_checksums,
                                             unwrap, wrap)
from morphsynth.training.metrics import spectral_convergence
from morphsynth.core.model import LOG_EPS, N_BINS, SpectralAutoencoder, warp_to_pitch
from morphsynth.core.spectral import StftSettings, log_spectral_distance
from morphsynth.core.synth_model import build_network, save_synth_model
from morphsynth.training.train_config import OptimConfig, TrainConfig

CHECKPOINT_DIR = "checkpoint"
BASELINES_DIR = "baselines"


# --- notes in memory --------------------------------------------------------------------------


@dataclass
class NoteSet:
    """Notes held in memory: ``logmag [n, 513, n_frames]`` float16 (``log(mag + 1e-4)``),
    ``pitch`` ``[n]`` float32 (sounding pitch: key plus bend), ``velocity``/``family`` ``[n]``
    long, ``instrument`` names."""

    logmag: torch.Tensor
    pitch: torch.Tensor
    velocity: torch.Tensor
    family: torch.Tensor
    instrument: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.logmag.shape[0]

    def to(self, device: torch.device) -> "NoteSet":
        return NoteSet(self.logmag.to(device), self.pitch.to(device), self.velocity.to(device),
                       self.family.to(device), self.instrument)

    def subset(self, index: list[int] | torch.Tensor) -> "NoteSet":
        index = torch.as_tensor(index, dtype=torch.long)
        names = [self.instrument[i] for i in index.tolist()] if self.instrument else []
        dev = self.logmag.device
        return NoteSet(self.logmag[index.to(dev)], self.pitch[index.to(dev)], self.velocity[index.to(dev)],
                       self.family[index.to(dev)], names)


def notes_from_dataset(dataset, max_notes: int | None = None, seed: int = 0, progress: bool = False) -> NoteSet:
    """Read a Dataset whose items hold ``mag [513, n_frames]``, ``pitch``, ``velocity``
    (and optionally ``family``, ``instrument_str``) into a :class:`NoteSet`.

    ``max_notes`` keeps a seeded random subset.
    """
    from tqdm import tqdm

    n = len(dataset)
    if n == 0:
        raise MorphsynthError("dataset split is empty")
    order = list(range(n))
    if max_notes is not None and max_notes < n:
        g = torch.Generator().manual_seed(seed)
        order = sorted(torch.randperm(n, generator=g)[:max_notes].tolist())
    first = dataset[order[0]]
    n_frames = first["mag"].shape[-1]
    logmag = torch.empty(len(order), N_BINS, n_frames, dtype=torch.float16)
    pitch, velocity, family, names = [], [], [], []
    for i, idx in enumerate(tqdm(order, desc="loading notes", unit="note", disable=not progress, dynamic_ncols=True)):
        item = first if i == 0 else dataset[idx]
        mag = torch.as_tensor(item["mag"], dtype=torch.float32)
        if mag.shape != (N_BINS, n_frames):
            raise MorphsynthError(f"note {item.get('note_str', idx)}: magnitude shape {list(mag.shape)}, "
                                  f"expected [{N_BINS}, {n_frames}]")
        logmag[i] = torch.log(mag + LOG_EPS).half()
        pitch.append(float(item["pitch"]))
        velocity.append(int(item["velocity"]))
        family.append(int(item.get("family", -1)))
        names.append(str(item.get("instrument_str", "")))
    return NoteSet(logmag, torch.tensor(pitch, dtype=torch.float32), torch.tensor(velocity),
                   torch.tensor(family), names)


def normalisation_stats(notes: NoteSet) -> tuple[torch.Tensor, float]:
    """Per-bin mean ``[513]`` and one global std of the log magnitude over all notes and frames."""
    total = torch.zeros(N_BINS, dtype=torch.float64)
    count = 0
    for chunk in notes.logmag.split(64):
        total += chunk.double().sum(dim=(0, 2)).cpu()
        count += chunk.shape[0] * chunk.shape[2]
    mean = total / count
    sq = 0.0
    for chunk in notes.logmag.split(64):
        sq += float(((chunk.double() - mean.to(chunk.device)[:, None]) ** 2).sum())
    std = math.sqrt(sq / (count * N_BINS))
    return mean.float(), max(std, 1e-3)


def features(net: SpectralAutoencoder, logmag: torch.Tensor) -> torch.Tensor:
    """``[batch, 513, n_frames]`` log magnitude (any float dtype) → normalised features, float32."""
    return (logmag.float() - net.norm_mean[:, None]) / net.norm_std


def random_gain(logmag: torch.Tensor, max_db: float) -> torch.Tensor:
    """Each note of ``logmag [batch, 513, n_frames]`` (``log(mag + 1e-4)``) scaled by a gain
    uniform in ±``max_db`` dB, exactly (the floor stays where it is)."""
    db = (torch.rand(logmag.shape[0], 1, 1, device=logmag.device) * 2 - 1) * max_db
    return apply_gain_db(logmag, db)


def apply_gain_db(logmag: torch.Tensor, db: torch.Tensor) -> torch.Tensor:
    """``logmag [batch, 513, n_frames]`` (``log(mag + 1e-4)``) with the magnitude scaled by
    ``db`` (broadcast against it) exactly: the floor stays where it is."""
    mag = (torch.exp(logmag) - LOG_EPS).clamp_min(0.0) * torch.pow(10.0, db / 20.0)
    return torch.log(mag + LOG_EPS)


# --- losses -----------------------------------------------------------------------------------


def compute_losses(core: SpectralAutoencoder, x_hat: torch.Tensor, x: torch.Tensor,
                   names: list[str]) -> dict[str, torch.Tensor]:
    """Named losses between features ``x_hat`` and ``x`` (``[batch, 513, n_frames]``)."""
    floor = core.floor_feature[:, None]
    clamped = torch.maximum(x_hat, floor)
    out = {}
    if "spec/mse" in names:
        out["spec/mse"] = (clamped - x).pow(2).mean()
    if "spec/l1" in names:
        out["spec/l1"] = (clamped - x).abs().mean()
    if "spec/sc" in names:
        # Clamp before exp: an untrained decoder's outliers would overflow.
        ref = core.features_to_mag(x)
        est = core.features_to_mag(clamped.clamp_max(x.amax().detach() + 2.0))
        out["spec/sc"] = spectral_convergence(ref, est).mean()
    return out


def fit_correction_baseline(core: SpectralAutoencoder, notes: NoteSet, device: torch.device,
                            batch_size: int = 64, max_pca_notes: int = 8192, seed: int = 0) -> torch.Tensor:
    """Fit the closed-form baseline of a CAE with ``model.baseline`` to ``notes`` (the training
    split, already normalised by ``core``); returns the explained ratio of its PCA part.

    The mean uses every note; the PCA a seeded subset of at most ``max_pca_notes`` (its
    residuals are held in memory: 0.5 MB per note).
    """
    from morphsynth.training.baseline_fit import fit_pitch_baseline

    def batches_of(subset: NoteSet):
        def batches():
            for start in range(0, len(subset), batch_size):
                end = start + batch_size
                yield (features(core, subset.logmag[start:end].to(device)), subset.pitch[start:end].to(device),
                       subset.velocity[start:end].to(device))
        return batches

    pca_notes = notes
    if len(notes) > max_pca_notes:
        g = torch.Generator().manual_seed(seed)
        pca_notes = notes.subset(torch.randperm(len(notes), generator=g)[:max_pca_notes].sort().values)
    return fit_pitch_baseline(core.baseline, batches_of(notes), batches_of(pca_notes))


def weighted_total(losses: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    return sum(weights[k] * v for k, v in losses.items() if weights.get(k, 0.0) > 0)


# --- state and loop ---------------------------------------------------------------------------


@dataclass
class TrainState:
    """Everything one run mutates: the (possibly DDP-wrapped) network, optimizer, counters."""

    net: nn.Module
    optimizer: torch.optim.Optimizer
    progress: Progress
    optim: OptimConfig
    loss_weights: dict[str, float]
    device: torch.device
    dist: DistInfo = DistInfo()
    total_steps: int = 1

    @property
    def core(self) -> SpectralAutoencoder:
        return unwrap(self.net)


def training_layout(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` with its convolution weights in channels-last layout on CPU and CUDA (in place).

    Same maths: oneDNN and cuDNN run these convolutions about a fifth faster that way.
    Saved tensors are made contiguous, so weight files do not change.
    """
    if device.type in ("cpu", "cuda"):
        net.to(memory_format=torch.channels_last)
    return net


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 convolutions natively."""
    try:
        if device.type == "cuda":
            return torch.cuda.is_bf16_supported()
        return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: the config's ``optim.precision`` with ``auto`` decided for ``device``."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device) else "fp32"


def lr_at(step: int, total_steps: int, optim: OptimConfig) -> float:
    """Linear warm-up, then cosine decay to ``lr * min_lr_ratio``."""
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    t = min(1.0, (step - optim.warmup_steps) / max(1, total_steps - optim.warmup_steps))
    return optim.lr * (optim.min_lr_ratio + (1 - optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))


def random_eq(logmag: torch.Tensor, max_db: float, n_bands: int = 4) -> torch.Tensor:
    """Each note of ``logmag [batch, 513, n_frames]`` through its own smooth random EQ.

    The EQ curve in dB is a sum of ``n_bands`` cosines over log frequency (100 Hz-8 kHz,
    flat outside) with random phases and amplitudes, scaled so its peak is uniform in
    ``[0, max_db]``: tilts, bumps and notches a microphone or a mixing desk would add,
    which push the encoder to code the timbre it hears rather than the training presets.
    """
    batch, n_bins = logmag.shape[0], logmag.shape[1]
    dev = logmag.device
    hz = torch.arange(n_bins, device=dev, dtype=torch.float32) * (8000.0 / (n_bins - 1))
    u = (torch.log2(hz.clamp(100.0, 8000.0) / 100.0) / math.log2(80.0))  # [513] in [0, 1]
    k = torch.arange(1, n_bands + 1, device=dev, dtype=torch.float32)
    phase = torch.rand(batch, n_bands, device=dev) * 2 * math.pi
    amp = torch.randn(batch, n_bands, device=dev) / k
    curve = (amp[:, :, None] * torch.cos(math.pi * k[None, :, None] * u[None, None, :] + phase[:, :, None])).sum(1)
    curve = curve / curve.abs().amax(dim=1, keepdim=True).clamp_min(1e-6)
    db = curve * (torch.rand(batch, 1, device=dev) * max_db)  # [batch, 513]
    return apply_gain_db(logmag, db[:, :, None])


def random_warp(logmag: torch.Tensor, pitch: torch.Tensor, max_semitones: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Transpose each note by a uniform ±``max_semitones`` by scaling its frequency axis.

    logmag ``[batch, 513, n_frames]``, pitch ``[batch]`` → both, the pitch moved to match:
    the model hears pitches between the rendered ones with the condition telling the truth.
    """
    delta = (torch.rand(pitch.shape[0], device=pitch.device) * 2 - 1) * max_semitones
    dst = pitch.float() + delta
    return warp_to_pitch(logmag.float(), pitch, dst), dst


def train_step(state: TrainState, logmag: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> dict[str, float]:
    """One optimiser step on a batch; returns the named losses and ``total`` as floats."""
    core = state.core
    state.net.train()
    for group in state.optimizer.param_groups:
        group["lr"] = lr_at(state.progress.step, state.total_steps, state.optim)
    if state.optim.augment_warp_semitones > 0:
        logmag, pitch = random_warp(logmag, pitch, state.optim.augment_warp_semitones)
    if state.optim.augment_eq_db > 0:
        logmag = random_eq(logmag.float(), state.optim.augment_eq_db)
    if state.optim.augment_gain_db > 0:
        logmag = random_gain(logmag.float(), state.optim.augment_gain_db)
    x = features(core, logmag)
    with torch.autocast(state.device.type, dtype=torch.bfloat16, enabled=state.optim.precision == "bf16"):
        x_hat, _ = state.net(x, pitch, velocity, state.optim.latent_noise)
    losses = compute_losses(core, x_hat.float(), x, list(state.loss_weights))
    total = weighted_total(losses, state.loss_weights)
    state.optimizer.zero_grad(set_to_none=True)
    total.backward()
    if state.optim.grad_clip > 0:
        nn.utils.clip_grad_norm_(state.net.parameters(), state.optim.grad_clip)
    state.optimizer.step()
    state.progress.step += 1
    out = {k: float(v.detach()) for k, v in losses.items()}
    out["total"] = float(total.detach())
    return out


@torch.no_grad()
def validate(core: SpectralAutoencoder, notes: NoteSet, loss_names: list[str], weights: dict[str, float],
             device: torch.device, batch_size: int = 16) -> dict[str, float]:
    """Mean named losses, ``total``, ``lsd_db`` and ``sc`` of the reconstructions of ``notes``."""
    core.eval()
    sums: dict[str, float] = {}
    n = len(notes)
    for start in range(0, n, batch_size):
        logmag = notes.logmag[start:start + batch_size].to(device)
        pitch = notes.pitch[start:start + batch_size].to(device)
        velocity = notes.velocity[start:start + batch_size].to(device)
        x = features(core, logmag)
        x_hat = core.decode(core.encode(x, pitch, velocity), pitch, velocity)
        losses = compute_losses(core, x_hat, x, loss_names)
        values = {k: float(v) for k, v in losses.items()}
        values["total"] = float(weighted_total(losses, weights))
        ref, est = core.features_to_mag(x), core.features_to_mag(x_hat)
        values["lsd_db"] = float(log_spectral_distance(ref, est).mean())
        values["sc"] = float(spectral_convergence(ref, est).mean())
        b = logmag.shape[0]
        for k, v in values.items():
            sums[k] = sums.get(k, 0.0) + v * b
    return {k: v / n for k, v in sums.items()}


def fit(state: TrainState, train_notes: NoteSet, valid_notes: NoteSet, *, max_epochs: int, seed: int,
        max_minutes: float | None = None, patience: int = 20,
        on_best: Callable[[SpectralAutoencoder, dict], None] | None = None,
        on_epoch: Callable[[TrainState], None] | None = None,
        log: Callable[[str], None] = print, progress_bar: bool = True, desc: str = "train") -> Progress:
    """Train until ``max_epochs``, early stopping (``patience`` epochs without a better
    validation LSD) or ``max_minutes``; continues from ``state.progress`` (resume).

    ``on_best(core, metrics)`` runs on rank 0 when the validation LSD improves;
    ``on_epoch(state)`` after every epoch (checkpointing).
    """
    from tqdm import tqdm

    p = state.progress
    batch = state.optim.batch_size
    cap = state.optim.epoch_notes
    n_local = len(epoch_indices(len(train_notes), state.dist, 0, seed)[:cap])
    steps_per_epoch = max(1, math.ceil(n_local / batch))
    state.total_steps = max_epochs * steps_per_epoch
    names = list(state.loss_weights)
    while p.epoch < max_epochs:
        t0 = time.perf_counter()
        # With epoch_notes, each epoch is a fresh seeded draw from the whole set in memory.
        order = epoch_indices(len(train_notes), state.dist, p.epoch, seed)[:cap]
        sums: dict[str, float] = {}
        bar = tqdm(range(0, len(order), batch), desc=f"{desc} epoch {p.epoch + 1}/{max_epochs}", unit="batch",
                   disable=not (progress_bar and state.dist.is_main), dynamic_ncols=True, leave=False)
        out_of_time, done = False, 0
        for start in bar:
            if max_minutes is not None and p.elapsed_s + time.perf_counter() - t0 >= max_minutes * 60:
                # An epoch can outlast the budget on a slow machine: stop mid-epoch, still validate.
                out_of_time = True
                break
            idx = torch.tensor(order[start:start + batch], device=train_notes.logmag.device)
            values = train_step(state, train_notes.logmag[idx].to(state.device),
                                train_notes.pitch[idx].to(state.device), train_notes.velocity[idx].to(state.device))
            done += 1
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{values['total']:.4f}")
        bar.close()
        n_batches = max(1, done)
        metrics = validate(state.core, valid_notes, names, state.loss_weights, state.device, batch)
        p.epoch += 1
        p.elapsed_s += time.perf_counter() - t0
        entry = {"epoch": p.epoch, "step": p.step, "lr": state.optimizer.param_groups[0]["lr"],
                 "elapsed_s": round(p.elapsed_s, 2)}
        entry.update({f"train/{k}": v / n_batches for k, v in sums.items()})
        entry.update({f"valid/{k}": v for k, v in metrics.items()})
        p.history.append(entry)
        improved = metrics["lsd_db"] < p.best_valid - 1e-6
        if improved:
            p.best_valid, p.best_epoch, p.epochs_since_best = metrics["lsd_db"], p.epoch, 0
            if on_best is not None and state.dist.is_main:
                on_best(state.core, metrics)
        else:
            p.epochs_since_best += 1
        if state.dist.is_main:
            log(f"{desc} epoch {p.epoch}: train {entry['train/total']:.4f}  valid {metrics['total']:.4f}  "
                f"valid LSD {metrics['lsd_db']:.2f} dB  SC {metrics['sc']:.3f}" + ("  *" if improved else ""))
        if on_epoch is not None:
            on_epoch(state)
        stop = p.epochs_since_best >= patience
        if out_of_time or (max_minutes is not None and p.elapsed_s >= max_minutes * 60):
            stop = True
            if state.dist.is_main:
                log(f"{desc}: time budget of {max_minutes} min reached")
        if broadcast_flag(stop, state.dist):
            break
    return p


# --- a whole run ------------------------------------------------------------------------------


def _run_info(config: TrainConfig, train_notes: NoteSet, extra: dict | None = None) -> dict:
    info = {"config_name": config.name, "seed": config.seed, "n_train_notes": len(train_notes),
            "n_train_instruments": len(set(train_notes.instrument))}
    info.update(extra or {})
    return info


def train_run(config: TrainConfig, train_notes: NoteSet, valid_notes: NoteSet, out_dir: str | Path,
              device: torch.device, *, resume: bool = False, dist: DistInfo = DistInfo(),
              log: Callable[[str], None] = print, progress_bar: bool = True,
              stft: StftSettings = StftSettings()) -> dict:
    """Train the CAE (and the baselines) into ``out_dir``; returns a summary dict."""
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / CHECKPOINT_DIR
    if dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume and has_checkpoint(ckpt_dir):
            raise MorphsynthError(f"{ckpt_dir}: a run already exists there; pass --resume to continue it "
                                  f"or choose another --out")
    barrier(dist)
    torch.manual_seed(config.seed)
    core = build_network("cae", config.model, int(train_notes.logmag.shape[-1]))
    mean, std = normalisation_stats(train_notes)
    core.set_normalisation(mean, std)
    core.to(device)
    baseline_info = {}
    if getattr(core, "baseline", None) is not None and not resume:
        # Fitted on the training split only; a resumed run reloads it from the checkpoint.
        t0 = time.perf_counter()
        explained = fit_correction_baseline(core, train_notes, device, seed=config.seed)
        baseline_info = {"baseline_pca_explained": round(float(explained.sum()), 4)} if explained.numel() else {}
        log(f"cae baseline {config.model.baseline}" + (f" + PCA {explained.numel()}" if explained.numel() else "")
            + f" fitted in {time.perf_counter() - t0:.0f} s"
            + (f" (PCA explains {float(explained.sum()):.3f} of what the mean leaves)" if explained.numel() else ""))
    training_layout(core, device)
    optimizer = torch.optim.AdamW(core.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    progress = Progress()
    if resume:
        if not has_checkpoint(ckpt_dir):
            raise MorphsynthError(f"{ckpt_dir}: no checkpoint to resume (train without --resume first)")
        progress = load_checkpoint(ckpt_dir, core, optimizer, stft)
        core.to(device)
        if dist.is_main:
            log(f"resuming from epoch {progress.epoch}, step {progress.step} "
                f"(best valid LSD {progress.best_valid:.2f} dB at epoch {progress.best_epoch})")
    net = wrap(core, dist, device)
    weights = {k: v for k, v in config.loss.items() if v > 0}
    optim = replace(config.optim, precision=resolve_precision(config.optim.precision, device))
    if dist.is_main and optim.precision != config.optim.precision:
        log(f"precision {config.optim.precision}: {optim.precision} on {device}")
    state = TrainState(net, optimizer, progress, optim, weights, device, dist)
    from morphsynth.core.config import to_dict

    run_extra = {"train_config": to_dict(config)}

    def on_best(best_core: SpectralAutoencoder, metrics: dict) -> None:
        info = _run_info(config, train_notes, {"epoch": state.progress.epoch, "step": state.progress.step,
                                                "valid_lsd_db": round(metrics["lsd_db"], 4),
                                                "valid_sc": round(metrics["sc"], 4), "precision": optim.precision,
                                                **baseline_info})
        save_synth_model(best_core, out_dir, name=config.name, stft=stft, info=info)

    def on_epoch(s: TrainState) -> None:
        if s.dist.is_main and s.progress.epoch % config.checkpoint_every == 0:
            save_checkpoint(ckpt_dir, s.core, s.optimizer, s.progress, stft, run_extra)
            _write_history(out_dir, s.progress.history)

    fit(state, train_notes, valid_notes, max_epochs=config.optim.max_epochs, seed=config.seed,
        max_minutes=config.optim.max_minutes, patience=config.optim.patience, on_best=on_best,
        on_epoch=on_epoch, log=log, progress_bar=progress_bar, desc="cae")
    summary = {"best_epoch": progress.best_epoch, "best_valid_lsd_db": progress.best_valid,
               "epochs": progress.epoch, "steps": progress.step, "elapsed_s": progress.elapsed_s,
               "precision": optim.precision, "world_size": dist.world_size,
               "replica_checksums": replica_checksums(core, dist)}
    if dist.is_main:
        save_checkpoint(ckpt_dir, core, optimizer, progress, stft, run_extra)
        _write_history(out_dir, progress.history)
        _write_config(out_dir, config)
        from morphsynth.training.report import plot_loss_curves

        plot_loss_curves(progress.history, out_dir / "loss_curves.png")
        if config.baselines:
            summary["baselines"] = fit_baselines(config, train_notes, valid_notes, out_dir / BASELINES_DIR,
                                                 device, log=log, progress_bar=progress_bar, stft=stft)
        import json

        (out_dir / "train_summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8")
    barrier(dist)
    return summary


def fit_baselines(config: TrainConfig, train_notes: NoteSet, valid_notes: NoteSet, out_dir: str | Path,
                  device: torch.device, *, log: Callable[[str], None] = print, progress_bar: bool = True,
                  stft: StftSettings = StftSettings()) -> dict:
    """PCA and/or the shallow AE at the CAE's latent size, saved as model folders under ``out_dir``."""
    from morphsynth.training.baseline_fit import fit_pca

    out_dir = Path(out_dir)
    latent = config.model.latent_dim
    n_frames = int(train_notes.logmag.shape[-1])
    mean, std = normalisation_stats(train_notes)
    names = [k for k, v in config.loss.items() if v > 0]
    weights = {k: config.loss[k] for k in names}
    summary = {}
    if config.baseline_max_notes is not None and config.baseline_max_notes < len(train_notes):
        # PCA's Gram matrix is [n, n]: a seeded subset keeps it to seconds on a big set.
        g = torch.Generator().manual_seed(config.seed)
        train_notes = train_notes.subset(torch.randperm(len(train_notes), generator=g)[:config.baseline_max_notes])
    if "pca" in config.baselines:
        torch.manual_seed(config.seed)
        pca = build_network("pca", {"latent_dim": latent}, n_frames)
        pca.set_normalisation(mean, std)
        pca.to(device)
        x = torch.cat([features(pca, c.to(device)) for c in train_notes.logmag.split(64)])
        explained = fit_pca(pca, x)
        del x
        metrics = validate(pca, valid_notes, names, weights, device)
        info = _run_info(config, train_notes, {"explained_variance": round(float(explained.sum()), 4),
                                               "valid_lsd_db": round(metrics["lsd_db"], 4)})
        save_synth_model(pca, out_dir / "pca", name=f"{config.name}-pca", stft=stft, info=info)
        log(f"pca: latent {latent}, explained variance {float(explained.sum()):.3f}, "
            f"valid LSD {metrics['lsd_db']:.2f} dB  SC {metrics['sc']:.3f}")
        summary["pca"] = metrics
    if "shallow_ae" in config.baselines:
        torch.manual_seed(config.seed)
        sae = build_network("shallow_ae", {"latent_dim": latent}, n_frames)
        sae.set_normalisation(mean, std)
        sae.to(device)
        optim = OptimConfig(lr=config.shallow_ae.lr, batch_size=config.optim.batch_size,
                            max_epochs=config.shallow_ae.max_epochs, warmup_steps=config.optim.warmup_steps,
                            patience=config.optim.patience)
        opt = torch.optim.AdamW(sae.parameters(), lr=optim.lr, weight_decay=0.0)
        st = TrainState(sae, opt, Progress(), optim, weights, device)
        folder = out_dir / "shallow_ae"

        def on_best(core: SpectralAutoencoder, metrics: dict) -> None:
            info = _run_info(config, train_notes, {"epoch": st.progress.epoch, "valid_lsd_db": round(metrics["lsd_db"], 4)})
            save_synth_model(core, folder, name=f"{config.name}-shallow_ae", stft=stft, info=info)

        fit(st, train_notes, valid_notes, max_epochs=optim.max_epochs, seed=config.seed, patience=optim.patience,
            max_minutes=config.optim.max_minutes, on_best=on_best, log=log, progress_bar=progress_bar,
            desc="shallow_ae")
        summary["shallow_ae"] = {"best_valid_lsd_db": st.progress.best_valid, "epochs": st.progress.epoch}
    return summary


def _write_history(out_dir: Path, history: list[dict]) -> None:
    write_json(out_dir / "history.json", history)


def _write_config(out_dir: Path, config: TrainConfig) -> None:
    import yaml

    from morphsynth.core.config import to_dict

    (out_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")

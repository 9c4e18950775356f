"""Typed dataclasses for a training config YAML (``configs/*.yaml``).

Only the command line builds these (through ``morphsynth.core.config.load_config``);
the network and the loop take the plain values. Example::

    name: default
    seed: 0
    model: {latent_dim: 16, width: 12}
    loss: {spec/mse: 1.0, spec/sc: 0.1}
    optim: {lr: 0.001, batch_size: 16, max_epochs: 150, max_minutes: 40}
    baselines: [pca, shallow_ae]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from morphsynth.core.model import CaeConfig

LOSS_NAMES = ("spec/mse", "spec/l1", "spec/sc")
BASELINE_NAMES = ("pca", "shallow_ae")
PRECISIONS = ("fp32", "bf16", "auto")


@dataclass
class OptimConfig:
    lr: float = 1e-3
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.0
    batch_size: int = 16
    max_epochs: int = 150
    max_minutes: Optional[float] = None  # stop (and keep the best) after this much training time
    grad_clip: float = 1.0
    patience: int = 20  # early stopping: epochs without a better validation loss
    augment_gain_db: float = 0.0  # random per-note gain, uniform in ±this many dB (unseen instruments differ in level)
    latent_noise: float = 0.0  # Gaussian noise on the latent while training, in batch standard deviations
    augment_eq_db: float = 0.0  # random smooth spectral EQ per note, peak uniform in [0, this] dB (train.random_eq)
    augment_warp_semitones: float = 0.0  # random transposition by frequency warp, uniform in ±this, condition moved too
    epoch_notes: Optional[int] = None  # notes per epoch, a fresh seeded draw each epoch (None: every note)
    # "bf16": the forward pass runs under bfloat16 autocast; losses, gradients, the optimiser and
    # validation stay float32. "auto": bf16 where the CPU (AVX512-BF16, AMX) or GPU computes it
    # natively, fp32 elsewhere (emulated bfloat16 would be slower than float32).
    precision: str = "fp32"

    def validate(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr: must be > 0, got {self.lr}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio: must lie in [0, 1], got {self.min_lr_ratio}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {self.batch_size}")
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs: must be >= 1, got {self.max_epochs}")
        if self.patience < 1:
            raise ValueError(f"patience: must be >= 1, got {self.patience}")
        if self.augment_gain_db < 0 or self.latent_noise < 0:
            raise ValueError("augment_gain_db and latent_noise: must be >= 0")
        if self.augment_eq_db < 0:
            raise ValueError(f"augment_eq_db: must be >= 0, got {self.augment_eq_db}")
        if not 0 <= self.augment_warp_semitones <= 12:
            raise ValueError(f"augment_warp_semitones: must lie in 0..12, got {self.augment_warp_semitones}")
        if self.epoch_notes is not None and self.epoch_notes < 1:
            raise ValueError(f"epoch_notes: must be >= 1, got {self.epoch_notes}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes: must be > 0, got {self.max_minutes}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")


@dataclass
class ShallowAeTrainConfig:
    """The shallow AE baseline trains with the same loop, its own budget."""

    max_epochs: int = 60
    lr: float = 1e-3

    def validate(self) -> None:
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs: must be >= 1, got {self.max_epochs}")


@dataclass
class TrainConfig:
    name: str = "default"
    seed: int = 0
    model: CaeConfig = field(default_factory=CaeConfig)
    loss: dict[str, float] = field(default_factory=lambda: {"spec/mse": 1.0})
    optim: OptimConfig = field(default_factory=OptimConfig)
    baselines: list[str] = field(default_factory=lambda: ["pca", "shallow_ae"])
    shallow_ae: ShallowAeTrainConfig = field(default_factory=ShallowAeTrainConfig)
    max_train_notes: Optional[int] = None  # cap for quick runs; None takes the whole train split
    max_valid_notes: Optional[int] = None  # seeded subset of the valid split, validated every epoch
    baseline_max_notes: Optional[int] = None  # seeded subset of the train notes the baselines fit on
    checkpoint_every: int = 1  # epochs between resumable checkpoints

    def validate(self) -> None:
        for key, weight in self.loss.items():
            if key not in LOSS_NAMES:
                raise ValueError(f"loss.{key}: unknown loss (known: {', '.join(LOSS_NAMES)})")
            if weight < 0:
                raise ValueError(f"loss.{key}: weight must be >= 0, got {weight}")
        if not any(w > 0 for w in self.loss.values()):
            raise ValueError("loss: at least one loss needs a positive weight")
        for name in self.baselines:
            if name not in BASELINE_NAMES:
                raise ValueError(f"baselines: unknown baseline '{name}' (known: {', '.join(BASELINE_NAMES)})")
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every: must be >= 1, got {self.checkpoint_every}")
        for key in ("max_train_notes", "max_valid_notes", "baseline_max_notes"):
            value = getattr(self, key)
            if value is not None and value < 2:
                raise ValueError(f"{key}: must be >= 2, got {value}")

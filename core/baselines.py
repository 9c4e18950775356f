"""Baselines at the same latent size, behind the same interface as the CAE.

* :class:`PcaModel`: principal components of the flattened normalised log
  magnitude (the strongest simple baseline in Roche et al.); pitch and velocity are
  ignored. ``morphsynth.training.baseline_fit.fit_pca`` fits it in closed form.
* :class:`ShallowAutoencoder`: one linear layer in, one out (Roche et al.'s
  shallow fully-connected AE), with the pitch/velocity features appended to the
  latent for the decoder so it gets the same conditioning as the CAE. Trained by
  the same loop as the CAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from morphsynth.core.model import N_BINS, N_FRAMES, SpectralAutoencoder, pitch_features


@dataclass(frozen=True)
class PcaConfig:
    latent_dim: int = 16

    def validate(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim: must be >= 1, got {self.latent_dim}")


@dataclass(frozen=True)
class ShallowAeConfig:
    latent_dim: int = 16

    def validate(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim: must be >= 1, got {self.latent_dim}")


class PcaModel(SpectralAutoencoder):
    """``z = (x - mean) Wᵀ``, ``x̂ = z W + mean`` on flattened features ``[batch, 513 * n_frames]``."""

    kind = "pca"

    def __init__(self, config: PcaConfig, n_frames: int = N_FRAMES):
        super().__init__(config.latent_dim, n_frames)
        config.validate()
        self.config = config
        dim = N_BINS * n_frames
        self.mean = nn.Parameter(torch.zeros(dim), requires_grad=False)
        self.components = nn.Parameter(torch.zeros(config.latent_dim, dim), requires_grad=False)

    def encode(self, x, pitch, velocity):
        return (x.flatten(1) - self.mean) @ self.components.T

    def decode(self, z, pitch, velocity):
        return (z @ self.components + self.mean).view(z.shape[0], N_BINS, self.n_frames)


class ShallowAutoencoder(SpectralAutoencoder):
    """``z = W_e x + b``; ``x̂ = W_d [z, cond] + b``, both over flattened features."""

    kind = "shallow_ae"

    def __init__(self, config: ShallowAeConfig, n_frames: int = N_FRAMES):
        super().__init__(config.latent_dim, n_frames)
        config.validate()
        self.config = config
        dim = N_BINS * n_frames
        self.encoder = nn.Linear(dim, config.latent_dim)
        self.decoder = nn.Linear(config.latent_dim + 14, dim)
        # Inputs are scaled by 1/sqrt(dim) in encode: with 128,763 inputs an Adam step
        # of size lr on every weight would otherwise move z by about lr * dim.
        self.input_scale = dim ** -0.5
        nn.init.normal_(self.encoder.weight, std=1.0)
        nn.init.zeros_(self.encoder.bias)
        nn.init.zeros_(self.decoder.bias)

    def encode(self, x, pitch, velocity):
        return self.encoder(x.flatten(1) * self.input_scale)

    def decode(self, z, pitch, velocity):
        out = self.decoder(torch.cat([z, pitch_features(pitch, velocity)], dim=1))
        return out.view(z.shape[0], N_BINS, self.n_frames)

"""The convolutional autoencoder (CAE) on log-magnitude spectrograms.

The network alone: encoder, decoder, ``encode``/``decode``. No optimiser or loss.

Every model here (this CAE and the baselines in ``baselines.py``) is a
:class:`SpectralAutoencoder`: it owns the feature normalisation (natural-log
magnitude, minus a per-bin mean, over one global standard deviation) and maps
normalised features ``[batch, 513, 251]`` to a latent ``[batch, latent_dim]`` and
back. ``synth_model.SynthModel`` wraps one of them for inference.

Pitch conditioning: the decoder gets the pitch and the velocity, so the latent is
free to carry timbre. Besides a FiLM modulation of every decoder block, the
highest-resolution blocks see "harmonic channels": for each frequency row,
``cos``/``sin`` of ``2π f / f0`` and the log harmonic number. They peak exactly on the
harmonics of any pitch, also pitches absent from training, so the convolutions
only have to learn what to put there, not where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

N_BINS = 513
N_FRAMES = 251
LOG_EPS = 1e-4
# The conv stack works on a power-of-two grid: Nyquist bin dropped, frames padded.
GRID_BINS = 512
GRID_FRAMES = 256


def midi_to_hz(pitch: torch.Tensor) -> torch.Tensor:
    """pitch: ``[batch]`` MIDI numbers (any dtype) → ``[batch]`` float32 Hz."""
    return 440.0 * torch.pow(2.0, (pitch.float() - 69.0) / 12.0)


def pitch_features(pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """Smooth condition features, so unseen pitches and velocities interpolate.

    pitch, velocity: ``[batch]`` MIDI values → ``[batch, 14]``.
    """
    p = pitch.float() / 127.0
    freqs = 2.0 ** torch.arange(6, device=pitch.device, dtype=torch.float32)  # 1..32 cycles over the range
    ang = math.pi * p[:, None] * freqs[None, :]
    v = velocity.float() / 127.0
    return torch.cat([p[:, None], v[:, None], torch.sin(ang), torch.cos(ang)], dim=1)


def harmonic_channels(pitch: torch.Tensor, n_rows: int, sample_rate: int = 16000, n_fft: int = 1024) -> torch.Tensor:
    """Per-frequency-row harmonic position features.

    pitch: ``[batch]``. Returns ``[batch, 3, n_rows, 1]``: ``cos(2π f/f0)``,
    ``sin(2π f/f0)`` and ``log2(f/f0) / 7`` at the centre frequency of each of
    ``n_rows`` rows covering the ``GRID_BINS`` linear bins.
    """
    stride = GRID_BINS // n_rows
    bin_hz = sample_rate / n_fft
    centres = (torch.arange(n_rows, device=pitch.device, dtype=torch.float32) * stride + (stride - 1) / 2) * bin_hz
    ratio = centres[None, :] / midi_to_hz(pitch)[:, None]  # [batch, n_rows]
    ang = 2 * math.pi * ratio
    logh = torch.log2(ratio.clamp_min(0.25)) / 7.0
    return torch.stack([torch.cos(ang), torch.sin(ang), logh], dim=1)[..., None]


def features_to_grid(x: torch.Tensor, pad_value: float) -> torch.Tensor:
    """``[batch, 513, 251]`` → ``[batch, 1, 512, 256]`` (Nyquist dropped, frames padded)."""
    x = x[:, :GRID_BINS, :]
    x = F.pad(x, (0, GRID_FRAMES - x.shape[-1]), value=pad_value)
    return x[:, None]


def grid_to_features(g: torch.Tensor, n_frames: int, nyquist_value: float) -> torch.Tensor:
    """``[batch, 1, 512, 256]`` → ``[batch, 513, n_frames]`` (padding cut, Nyquist row set)."""
    g = g[:, 0, :, :n_frames]
    nyq = torch.full_like(g[:, :1, :], nyquist_value)
    return torch.cat([g, nyq], dim=1)


class SpectralAutoencoder(nn.Module):
    """Base of every model: feature normalisation plus an encode/decode pair.

    Subclasses implement :meth:`encode` and :meth:`decode` on normalised
    features. The statistics are buffers that are not saved in the weights file:
    the model folder's JSON holds them (one source of truth, readable without torch).
    """

    kind = "base"

    def __init__(self, latent_dim: int, n_frames: int = N_FRAMES):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.n_frames = int(n_frames)
        self.register_buffer("norm_mean", torch.zeros(N_BINS), persistent=False)
        self.register_buffer("norm_std", torch.ones(()), persistent=False)

    def set_normalisation(self, mean: torch.Tensor, std: float | torch.Tensor) -> None:
        """mean: ``[513]`` per-bin mean of the log magnitude; std: one global scalar."""
        self.norm_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.norm_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    @property
    def floor_feature(self) -> torch.Tensor:
        """``[513]``: the normalised value of silence (log of the floor) per bin."""
        return (math.log(LOG_EPS) - self.norm_mean) / self.norm_std

    def mag_to_features(self, mag: torch.Tensor) -> torch.Tensor:
        """Linear magnitude ``[batch, 513, n_frames]`` → normalised log features, same shape."""
        return (torch.log(mag + LOG_EPS) - self.norm_mean[:, None]) / self.norm_std

    def features_to_mag(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`mag_to_features`; non-negative."""
        return (torch.exp(x * self.norm_std + self.norm_mean[:, None]) - LOG_EPS).clamp_min(0.0)

    def encode(self, x: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        """x: ``[batch, 513, n_frames]`` features; pitch, velocity ``[batch]`` → ``[batch, latent_dim]``."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        """z: ``[batch, latent_dim]`` → features ``[batch, 513, n_frames]``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor,
                latent_noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction and latent: ``([batch, 513, n_frames], [batch, latent_dim])``.

        ``latent_noise`` > 0 adds Gaussian noise of that many batch standard deviations
        to the latent before decoding (training only): the decoder then has to map a
        neighbourhood of each code to the same note, which keeps the space between
        codes meaningful for morphing.
        """
        z = self.encode(x, pitch, velocity)
        z_dec = z
        if latent_noise > 0 and z.shape[0] > 1:
            z_dec = z + latent_noise * z.detach().std(dim=0, keepdim=True) * torch.randn_like(z)
        return self.decode(z_dec, pitch, velocity), z


@dataclass(frozen=True)
class CaeConfig:
    """Shape of the CAE. ``width`` is the channel count of the first encoder layer."""

    latent_dim: int = 16
    width: int = 12
    max_channels: int = 128
    cond_dim: int = 128
    harmonic_rows: int = 128  # decoder layers whose input has at least this many frequency rows see harmonic channels

    def validate(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim: must be >= 1, got {self.latent_dim}")
        if self.width < 1 or self.max_channels < self.width:
            raise ValueError(f"width: must be >= 1 and <= max_channels, got {self.width}")
        if self.cond_dim < 1:
            raise ValueError(f"cond_dim: must be >= 1, got {self.cond_dim}")
        if self.harmonic_rows not in (0, 16, 32, 64, 128, 256, 512):
            raise ValueError(f"harmonic_rows: must be 0 or a power of two 16..512, got {self.harmonic_rows}")


N_LEVELS = 6  # 512 x 256 → 8 x 4


class FilmBlock(nn.Module):
    """Transposed conv (kernel 4, stride 2: doubles both axes), FiLM from the condition, LeakyReLU."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, extra: int):
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in + extra, c_out, 4, stride=2, padding=1)
        self.film = nn.Linear(cond_dim, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, h: torch.Tensor, cond: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        if extra is not None:
            h = torch.cat([h, extra.expand(-1, -1, -1, h.shape[-1])], dim=1)
        h = self.conv(h)
        gamma, beta = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        return F.leaky_relu(h * (1 + gamma) + beta, 0.2)


class ConvAutoencoder(SpectralAutoencoder):
    """2-D CAE: strided-conv encoder; FiLM-conditioned upsampling decoder.

    No BatchNorm: statistics computed over a batch of mixed pitches would leak
    pitch into the normalised activations and make batch-of-one inference differ.
    """

    kind = "cae"

    def __init__(self, config: CaeConfig, n_frames: int = N_FRAMES):
        super().__init__(config.latent_dim, n_frames)
        config.validate()
        self.config = config
        chans = [min(config.width * 2 ** i, config.max_channels) for i in range(N_LEVELS)]
        enc = []
        c_prev = 1 + 3  # log magnitude + harmonic channels
        for c in chans:
            enc += [nn.Conv2d(c_prev, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_prev = c
        self.encoder = nn.Sequential(*enc)
        bottom = (GRID_BINS >> N_LEVELS, GRID_FRAMES >> N_LEVELS)  # (8, 4)
        self.bottom = bottom
        self.to_latent = nn.Linear(chans[-1] * bottom[0] * bottom[1], config.latent_dim)

        self.cond = nn.Sequential(
            nn.Linear(config.latent_dim + 14, config.cond_dim), nn.LeakyReLU(0.2),
            nn.Linear(config.cond_dim, config.cond_dim), nn.LeakyReLU(0.2),
        )
        self.from_cond = nn.Linear(config.cond_dim, chans[-1] * bottom[0] * bottom[1])
        dec_chans = list(reversed(chans))  # [c5, c4, ..., c0]
        blocks = []
        self.harmonic_levels = []
        for i in range(N_LEVELS - 1):
            in_rows = bottom[0] << i
            use_h = config.harmonic_rows > 0 and in_rows >= config.harmonic_rows
            self.harmonic_levels.append(in_rows if use_h else 0)
            blocks.append(FilmBlock(dec_chans[i], dec_chans[i + 1], config.cond_dim, 3 if use_h else 0))
        self.blocks = nn.ModuleList(blocks)
        # The last doubling writes the single output channel: at full resolution it
        # dominates the cost, so no FiLM and no activation there.
        self.out_harmonics = config.harmonic_rows > 0 and GRID_BINS // 2 >= config.harmonic_rows
        self.out = nn.ConvTranspose2d(dec_chans[-1] + (3 if self.out_harmonics else 0), 1, 4, stride=2, padding=1)

    def encode(self, x: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        g = features_to_grid(x, float(self.floor_feature[:GRID_BINS].mean()))
        h = harmonic_channels(pitch, GRID_BINS).expand(-1, -1, -1, GRID_FRAMES)
        h = self.encoder(torch.cat([g, h], dim=1))  # [batch, c5, 8, 4]
        return self.to_latent(h.flatten(1))

    def decode(self, z: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        cond = self.cond(torch.cat([z, pitch_features(pitch, velocity)], dim=1))
        h = self.from_cond(cond).view(z.shape[0], -1, *self.bottom)  # [batch, c5, 8, 4]
        for block, rows in zip(self.blocks, self.harmonic_levels):
            extra = harmonic_channels(pitch, rows) if rows else None
            h = block(h, cond, extra)  # rows and frames double
        if self.out_harmonics:
            h = torch.cat([h, harmonic_channels(pitch, h.shape[2]).expand(-1, -1, -1, h.shape[-1])], dim=1)
        g = self.out(h)  # [batch, 1, 512, 256]
        return grid_to_features(g, self.n_frames, float(self.floor_feature[-1]))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

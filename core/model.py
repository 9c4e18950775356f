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

Correction on a baseline (``CaeConfig.baseline``): the CAE alone generalises to
unseen instruments much worse than PCA (it learns the training instruments), so
optionally it decodes only a correction on top of a closed-form baseline fitted on
the training split (:class:`PitchBaseline`): the pitch- and velocity-dependent
training mean, plus, with ``pca_dims``, a PCA of what that mean leaves. The PCA
coefficients are the first ``pca_dims`` latent coordinates, so the latent size
stays the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

N_BINS = 513
N_FRAMES = 251
LOG_EPS = 1e-4
# The conv stack works on a power-of-two grid: Nyquist bin dropped, frames padded.
GRID_BINS = 512
GRID_FRAMES = 256
# Pitches at which PitchBaseline keeps a mean spectrogram: every 6 semitones over the
# 88 keys (21..108) and a little beyond; other pitches are warped from the two neighbours.
BASELINE_ANCHORS = tuple(range(18, 115, 6))
BASELINE_KINDS = ("pitch_mean",)


def midi_to_hz(pitch: torch.Tensor) -> torch.Tensor:
    """pitch: ``[batch]`` MIDI numbers (any dtype) → ``[batch]`` float32 Hz."""
    return 440.0 * torch.pow(2.0, (pitch.float() - 69.0) / 12.0)


def pitch_features(pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """The first models' condition features (``CaeConfig.pitch_features`` absent).

    pitch, velocity: ``[batch]`` MIDI values → ``[batch, 14]``. The fastest sinusoid has a
    period of 4 semitones, so from notes 6 semitones apart it aliases: kept only so
    model files written with it still load.
    """
    p = pitch.float() / 127.0
    freqs = 2.0 ** torch.arange(6, device=pitch.device, dtype=torch.float32)  # 1..32 cycles over the range
    ang = math.pi * p[:, None] * freqs[None, :]
    v = velocity.float() / 127.0
    return torch.cat([p[:, None], v[:, None], torch.sin(ang), torch.cos(ang)], dim=1)


def smooth_pitch_features(pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
    """Condition features with no period shorter than 64 semitones (``pitch_features: smooth``).

    pitch, velocity: ``[batch]`` MIDI values (fractional allowed) → ``[batch, 11]``. Where
    the harmonics go is the harmonic channels' job; these only let the timbre change
    slowly along the keyboard and with velocity, so they must not wiggle between keys.
    """
    p = (pitch.float() - 64.0) / 64.0
    v = (velocity.float() - 64.0) / 64.0
    ang = math.pi * p[:, None] * torch.tensor([0.5, 1.0, 2.0], device=pitch.device)
    return torch.cat([torch.stack([p, v, p * p, v * v, p * v], dim=1), torch.sin(ang), torch.cos(ang)], dim=1)


CONDITION_FEATURES = {None: (pitch_features, 14), "smooth": (smooth_pitch_features, 11)}


def harmonic_template(pitch: torch.Tensor, n_rows: int = GRID_BINS, sample_rate: int = 16000,
                      n_fft: int = 1024, floor_db: float = -40.0) -> torch.Tensor:
    """Log magnitude of a flat harmonic comb at ``pitch`` as the STFT's Hann window sees it.

    pitch: ``[batch]`` fractional MIDI → ``[batch, 1, n_rows, 1]``, natural log, 0 on every
    harmonic and down to ``floor_db`` between them: each linear bin takes the Hann main
    lobe ``sinc(d) / (1 - d²)`` at its distance ``d`` (in bins) from the nearest harmonic.
    Exact at any fractional pitch, so the decoder only has to say how deep the comb is.
    """
    bin_hz = sample_rate / n_fft
    f0 = midi_to_hz(pitch)[:, None]  # [batch, 1]
    f = torch.arange(n_rows, device=pitch.device, dtype=torch.float32)[None, :] * bin_hz
    h = torch.round(f / f0).clamp_min(1.0)
    d = ((f - h * f0) / bin_hz).abs()
    lobe = torch.sinc(d) / (1.0 - d * d).clamp_min(1e-6)
    lobe = torch.where((d - 1.0).abs() < 1e-4, torch.full_like(d, 0.5), lobe)  # the 0/0 at d = 1
    floor = 10.0 ** (floor_db / 20.0)
    lobe = torch.where(d < 2.0, lobe.clamp_min(floor), torch.full_like(d, floor))
    return torch.log(lobe)[:, None, :, None]


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
    # Decode a correction on top of a baseline fitted on the training split (None: plain CAE).
    # "pitch_mean": the training mean at the note's pitch and velocity. Defaults are None, not
    # "off"/0, so model and checkpoint files written before these keys existed compare equal.
    baseline: Optional[str] = None
    pca_dims: Optional[int] = None  # with a baseline: this many latent coordinates are PCA coefficients of x - mean
    # "smooth": condition features without short periods (smooth_pitch_features); absent: the first
    # models' aliasing Fourier features, for files written before.
    pitch_features: Optional[str] = None
    # True: source-filter output, an envelope plus a depth (>= 0) times the exact harmonic comb of
    # the note's pitch (harmonic_template), both decoded; absent: one decoded channel.
    harmonic_output: Optional[bool] = None

    def validate(self) -> None:
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim: must be >= 1, got {self.latent_dim}")
        if self.width < 1 or self.max_channels < self.width:
            raise ValueError(f"width: must be >= 1 and <= max_channels, got {self.width}")
        if self.cond_dim < 1:
            raise ValueError(f"cond_dim: must be >= 1, got {self.cond_dim}")
        if self.harmonic_rows not in (0, 16, 32, 64, 128, 256, 512):
            raise ValueError(f"harmonic_rows: must be 0 or a power of two 16..512, got {self.harmonic_rows}")
        if self.baseline is not None and self.baseline not in BASELINE_KINDS:
            raise ValueError(f"baseline: must be one of {', '.join(BASELINE_KINDS)} or absent, got {self.baseline!r}")
        if self.pca_dims is not None:
            if self.baseline is None:
                raise ValueError("pca_dims: needs a baseline (baseline: pitch_mean)")
            if not 1 <= self.pca_dims < self.latent_dim:
                raise ValueError(f"pca_dims: must lie in 1..latent_dim-1 ({self.latent_dim - 1}), got {self.pca_dims}")
        if self.pitch_features not in CONDITION_FEATURES:
            raise ValueError(f"pitch_features: must be smooth or absent, got {self.pitch_features!r}")
        if self.harmonic_output is not None and not isinstance(self.harmonic_output, bool):
            raise ValueError(f"harmonic_output: must be true or false, got {self.harmonic_output!r}")


def warp_to_pitch(x: torch.Tensor, src_pitch: torch.Tensor, dst_pitch: torch.Tensor) -> torch.Tensor:
    """Scale the frequency axis of spectra so harmonics of ``src_pitch`` land on those of ``dst_pitch``.

    x: ``[batch, 513, n_frames]``; src_pitch, dst_pitch: ``[batch]`` MIDI (float allowed).
    Returns ``[batch, 513, n_frames]`` with ``y[k] = x[k * f0(src) / f0(dst)]`` (linear
    interpolation between bins; rows read from beyond Nyquist take the Nyquist row).
    """
    ratio = torch.pow(2.0, (src_pitch.float() - dst_pitch.float()) / 12.0)  # [batch]
    pos = (torch.arange(N_BINS, device=x.device, dtype=torch.float32)[None, :] * ratio[:, None]).clamp(max=N_BINS - 1)
    i0 = pos.floor().long().clamp(max=N_BINS - 2)  # [batch, 513]
    w = (pos - i0.float())[:, :, None]
    idx = i0[:, :, None].expand(-1, -1, x.shape[-1])
    return x.gather(1, idx) * (1 - w) + x.gather(1, idx + 1) * w


def velocity_to_unit(velocity: torch.Tensor) -> torch.Tensor:
    """``[batch]`` MIDI velocity → ``[batch]`` float, 0 at 64 and 1 at 128 (the baseline's slope axis)."""
    return (velocity.float() - 64.0) / 64.0


class PitchBaseline(nn.Module):
    """Closed-form baseline the CAE corrects: ``mean(pitch, velocity) [+ PCA of the rest]``.

    Buffers (saved in the weights file, filled by ``baselines.fit_pitch_baseline``):
    ``anchor_mean``, ``anchor_slope`` ``[len(BASELINE_ANCHORS), 513, n_frames]`` (float16:
    they are ~9 MB in float32 per table, and 1e-3 of a feature std is far below what
    LSD resolves): per anchor pitch, the training mean of the normalised features at
    velocity 64 and its change per unit of :func:`velocity_to_unit`; with ``pca_dims``,
    ``components [pca_dims, 513 * n_frames]`` (orthonormal rows) and ``coeff_std
    [pca_dims]`` (training std of each coefficient: latent coordinates are whitened
    coefficients, so they sit on the same scale as the learned ones).
    """

    def __init__(self, n_frames: int, pca_dims: int = 0):
        super().__init__()
        self.n_frames = int(n_frames)
        self.pca_dims = int(pca_dims)
        n_anchors = len(BASELINE_ANCHORS)
        self.register_buffer("anchor_mean", torch.zeros(n_anchors, N_BINS, n_frames, dtype=torch.float16))
        self.register_buffer("anchor_slope", torch.zeros(n_anchors, N_BINS, n_frames, dtype=torch.float16))
        if self.pca_dims:
            self.register_buffer("components", torch.zeros(self.pca_dims, N_BINS * n_frames))
            self.register_buffer("coeff_std", torch.ones(self.pca_dims))

    def mean(self, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        """pitch, velocity: ``[batch]`` → the baseline mean ``[batch, 513, n_frames]``.

        Between anchors both neighbours are warped to the pitch and blended linearly, so
        harmonics stay sharp at pitches that were never trained.
        """
        step = BASELINE_ANCHORS[1] - BASELINE_ANCHORS[0]
        pos = ((pitch.float() - BASELINE_ANCHORS[0]) / step).clamp(0, len(BASELINE_ANCHORS) - 1)
        i0 = pos.floor().long().clamp(max=len(BASELINE_ANCHORS) - 2)  # [batch]
        t = (pos - i0.float())[:, None, None]
        u = velocity_to_unit(velocity)[:, None, None]
        out = 0
        for i, weight in ((i0, 1 - t), (i0 + 1, t)):
            at_anchor = self.anchor_mean[i].float() + u * self.anchor_slope[i].float()
            anchor_pitch = BASELINE_ANCHORS[0] + step * i.float()
            out = out + weight * warp_to_pitch(at_anchor, anchor_pitch, pitch)
        return out

    def encode(self, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """x, mean: ``[batch, 513, n_frames]`` → whitened PCA coefficients ``[batch, pca_dims]``."""
        return ((x - mean).flatten(1) @ self.components.T) / self.coeff_std

    def decode(self, coeffs: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """coeffs: ``[batch, pca_dims]`` whitened; mean ``[batch, 513, n_frames]`` → same shape."""
        if not self.pca_dims:
            return mean
        return mean + ((coeffs * self.coeff_std) @ self.components).view_as(mean)


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

    With ``config.baseline`` the encoder sees what the baseline leaves (``x`` minus the
    baseline reconstruction) and the decoder's output is added to the baseline; its last
    layer starts at zero, so an untrained model reproduces the baseline exactly.
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
        self.pca_dims = config.pca_dims or 0
        self.baseline = PitchBaseline(n_frames, self.pca_dims) if config.baseline else None
        self.to_latent = nn.Linear(chans[-1] * bottom[0] * bottom[1], config.latent_dim - self.pca_dims)

        self.condition_features, n_cond = CONDITION_FEATURES[config.pitch_features]
        self.cond = nn.Sequential(
            nn.Linear(config.latent_dim + n_cond, config.cond_dim), nn.LeakyReLU(0.2),
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
        # The comb depth is smooth along both axes: decoded at half resolution by a 1x1 conv
        # and upsampled, it costs almost nothing next to the full-resolution layer.
        self.comb_depth = None
        if config.harmonic_output:
            # Starts as a full comb (depth softplus(b) = 1 everywhere): a harmonic note is the
            # prior, which the decoder learns to relax for noisy or inharmonic sounds.
            self.comb_depth = nn.Conv2d(dec_chans[-1], 1, 1)
            nn.init.zeros_(self.comb_depth.weight)
            nn.init.constant_(self.comb_depth.bias, math.log(math.e - 1.0))
        if self.baseline is not None:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def encode(self, x: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        if self.baseline is None:
            g = features_to_grid(x, float(self.floor_feature[:GRID_BINS].mean()))
            coeffs = x.new_zeros(x.shape[0], 0)
        else:
            mean = self.baseline.mean(pitch, velocity)
            coeffs = self.baseline.encode(x, mean) if self.pca_dims else x.new_zeros(x.shape[0], 0)
            # Padding frames are silence in x and in the baseline alike: the residual there is 0.
            g = features_to_grid(x - self.baseline.decode(coeffs, mean), 0.0)
        h = harmonic_channels(pitch, GRID_BINS).expand(-1, -1, -1, GRID_FRAMES)
        h = self.encoder(torch.cat([g, h], dim=1))  # [batch, c5, 8, 4]
        return torch.cat([coeffs, self.to_latent(h.flatten(1))], dim=1)

    def decode(self, z: torch.Tensor, pitch: torch.Tensor, velocity: torch.Tensor) -> torch.Tensor:
        cond = self.cond(torch.cat([z, self.condition_features(pitch, velocity)], dim=1))
        h = self.from_cond(cond).view(z.shape[0], -1, *self.bottom)  # [batch, c5, 8, 4]
        for block, rows in zip(self.blocks, self.harmonic_levels):
            extra = harmonic_channels(pitch, rows) if rows else None
            h = block(h, cond, extra)  # rows and frames double
        depth = None
        if self.comb_depth is not None:
            depth = F.softplus(F.interpolate(self.comb_depth(h), scale_factor=2.0, mode="bilinear", align_corners=False))
        if self.out_harmonics:
            h = torch.cat([h, harmonic_channels(pitch, h.shape[2]).expand(-1, -1, -1, h.shape[-1])], dim=1)
        g = self.out(h)  # [batch, 1, 512, 256]
        if depth is not None:
            # Envelope plus depth x comb: the comb is in log units, the output in normalised ones.
            g = g + depth * (harmonic_template(pitch) / self.norm_std)
        if self.baseline is None:
            return grid_to_features(g, self.n_frames, float(self.floor_feature[-1]))
        mean = self.baseline.mean(pitch, velocity)
        return self.baseline.decode(z[:, :self.pca_dims], mean) + grid_to_features(g, self.n_frames, 0.0)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

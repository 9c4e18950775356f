"""The frozen inference object every consumer uses, and its model folder.

A model folder holds ``model.safetensors`` (weights only) and ``model.json``::

    {"format": "morphsynth-model", "format_version": 1, "name": "default", "kind": "cae",
     "model_config": {...}, "stft": {"sample_rate": 16000, "n_fft": 1024, "hop": 256},
     "sample_rate": 16000, "latent_dim": 16, "n_bins": 513, "n_frames": 251,
     "normalisation": {"log_eps": 1e-4, "mean": [513 floats], "std": float}, "info": {...}}

Nothing is unpickled. Any mismatch (format version, kind, STFT, shapes, weights)
raises :class:`MorphsynthError` with one line naming the file and the field.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_path, read_versioned_json, write_json
from morphsynth.core.baselines import PcaConfig, PcaModel, ShallowAeConfig, ShallowAutoencoder
from morphsynth.core.model import LOG_EPS, N_BINS, CaeConfig, ConvAutoencoder, SpectralAutoencoder
from morphsynth.core.spectral import StftSettings, magnitude

FORMAT = "morphsynth-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
# The shipped model, found relative to the package (not the working directory).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "default"

# kind → (config dataclass, network class)
KINDS: dict[str, tuple[type, type[SpectralAutoencoder]]] = {
    "cae": (CaeConfig, ConvAutoencoder),
    "pca": (PcaConfig, PcaModel),
    "shallow_ae": (ShallowAeConfig, ShallowAutoencoder),
}


def default_model_dir() -> Path:
    """The model folder used when none is given: ``$MORPHSYNTH_MODEL``, else the shipped one."""
    env = os.environ.get("MORPHSYNTH_MODEL")
    return Path(env) if env else SHIPPED_MODEL_DIR


def build_network(kind: str, config: dict[str, Any] | Any, n_frames: int = 251) -> SpectralAutoencoder:
    """A fresh network of ``kind`` from its config dataclass or a plain dict of its fields."""
    if kind not in KINDS:
        raise MorphsynthError(f"unknown model kind '{kind}' (known: {', '.join(KINDS)})")
    cfg_cls, net_cls = KINDS[kind]
    if isinstance(config, dict):
        known = {f.name for f in fields(cfg_cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise MorphsynthError(f"model_config: unknown key '{unknown[0]}' for kind '{kind}'")
        config = cfg_cls(**config)
    try:
        return net_cls(config, n_frames=n_frames)
    except ValueError as exc:
        raise MorphsynthError(f"model_config: {exc}") from None


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _as_midi(values, n: int | None, what: str, device, dtype: torch.dtype = torch.long) -> torch.Tensor:
    """MIDI values as a ``[n]`` tensor of ``dtype`` (a single value is broadcast), checked to lie in 0..127."""
    t = torch.as_tensor(values, device=device).to(dtype).reshape(-1)
    if n is not None and t.numel() == 1 and n > 1:
        t = t.expand(n)
    if n is not None and t.numel() != n:
        raise MorphsynthError(f"{what}: expected {n} values, got {t.numel()}")
    if t.numel() and (float(t.min()) < 0 or float(t.max()) > 127):
        raise MorphsynthError(f"{what}: MIDI values must lie in 0..127")
    return t


class SynthModel:
    """A loaded model in eval mode: latent ↔ linear magnitude, conditioned on pitch and velocity.

    Attributes: ``name``, ``kind``, ``stft`` (:class:`StftSettings`), ``n_frames``,
    ``latent_dim``, ``model_hash`` (sha256 of the weights file, or of the tensors
    for a model that was never saved), ``device``, ``info`` (training metadata)
    and ``net`` (the underlying :class:`SpectralAutoencoder`).
    """

    def __init__(self, net: SpectralAutoencoder, name: str, stft: StftSettings, model_hash: str,
                 device: str | torch.device = "cpu", info: dict | None = None):
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.name = name
        self.kind = net.kind
        self.stft = stft
        self.n_frames = net.n_frames
        self.n_bins = N_BINS
        self.latent_dim = net.latent_dim
        self.model_hash = model_hash
        self.info = dict(info or {})

    def __repr__(self) -> str:
        return (f"SynthModel(name={self.name!r}, kind={self.kind!r}, latent_dim={self.latent_dim}, "
                f"hash={self.model_hash[:12]}, device={self.device})")

    @torch.no_grad()
    def encode(self, mag: torch.Tensor, pitch, velocity) -> torch.Tensor:
        """mag: ``[batch, 513, n_frames]`` linear magnitude; pitch (fractional MIDI allowed), velocity:
        ``[batch]`` → ``[batch, latent_dim]``."""
        mag = torch.as_tensor(mag, dtype=torch.float32, device=self.device)
        if mag.ndim != 3 or mag.shape[1:] != (self.n_bins, self.n_frames):
            raise MorphsynthError(f"mag: expected [batch, {self.n_bins}, {self.n_frames}], got {list(mag.shape)}")
        n = mag.shape[0]
        # Fractional pitch (a bent or detuned note) reaches the network as it is.
        p = _as_midi(pitch, n, "pitch", self.device, torch.float32)
        v = _as_midi(velocity, n, "velocity", self.device)
        return self.net.encode(self.net.mag_to_features(mag), p, v).float()

    @torch.no_grad()
    def decode(self, z: torch.Tensor, pitch, velocity) -> torch.Tensor:
        """z: ``[batch, latent_dim]``; pitch (fractional MIDI allowed), velocity: ``[batch]`` → linear
        magnitude ``[batch, 513, n_frames]`` ≥ 0."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise MorphsynthError(f"z: expected [batch, {self.latent_dim}], got {list(z.shape)}")
        n = z.shape[0]
        # Fractional pitch (a bent or detuned note) reaches the network as it is.
        p = _as_midi(pitch, n, "pitch", self.device, torch.float32)
        v = _as_midi(velocity, n, "velocity", self.device)
        return self.net.features_to_mag(self.net.decode(z, p, v)).float()

    @torch.no_grad()
    def encode_audio(self, audio: torch.Tensor, pitch, velocity) -> torch.Tensor:
        """audio: ``[batch, n_samples]`` at ``stft.sample_rate`` (64,000 for 4 s) → ``[batch, latent_dim]``.

        Shorter audio is zero-padded and longer audio cut to ``n_frames`` frames.
        """
        audio = torch.as_tensor(audio, dtype=torch.float32, device=self.device)
        if audio.ndim == 1:
            audio = audio[None]
        n_samples = self.stft.n_samples(self.n_frames)
        if audio.shape[-1] < n_samples:
            audio = torch.nn.functional.pad(audio, (0, n_samples - audio.shape[-1]))
        mag = magnitude(audio[:, :n_samples], self.stft.n_fft, self.stft.hop)
        return self.encode(mag, pitch, velocity)


def _metadata(net: SpectralAutoencoder, name: str, stft: StftSettings, info: dict | None) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "kind": net.kind,
        "model_config": asdict(net.config),
        "stft": {"sample_rate": stft.sample_rate, "n_fft": stft.n_fft, "hop": stft.hop},
        "sample_rate": stft.sample_rate,
        "latent_dim": net.latent_dim,
        "n_bins": N_BINS,
        "n_frames": net.n_frames,
        "normalisation": {
            "log_eps": LOG_EPS,
            "mean": [float(v) for v in net.norm_mean.cpu()],
            "std": float(net.norm_std.cpu()),
        },
        "info": info or {},
    }


def save_synth_model(net: SpectralAutoencoder, path: str | Path, name: str | None = None,
                     stft: StftSettings = StftSettings(), info: dict | None = None) -> str:
    """Write ``net`` as a model folder at ``path`` (created if needed); returns the model hash.

    Both files are written to temporary names first and renamed, so a reader
    never sees a half-written model.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    name = name or path.name
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = _metadata(net, name, stft, info)
    with atomic_path(path / WEIGHTS_FILE) as tmp_w:
        save_file(state, str(tmp_w), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION),
                                               "kind": net.kind})
        digest = file_sha256(tmp_w)
        meta["model_hash"] = digest
        write_json(path / META_FILE, meta)
    return digest


def read_model_json(path: str | Path) -> dict:
    """The checked metadata of a model folder (no weights read)."""
    path = Path(path)
    meta_path = path / META_FILE
    if not path.is_dir():
        raise MorphsynthError(f"{path}: model folder not found")
    meta = read_versioned_json(meta_path, FORMAT, FORMAT_VERSION, "model file",
                               missing=f"a model folder holds {META_FILE} and {WEIGHTS_FILE}")
    for key in ("kind", "model_config", "stft", "sample_rate", "latent_dim", "n_bins", "n_frames", "normalisation"):
        if key not in meta:
            raise MorphsynthError(f"{meta_path}: missing key '{key}'")
    if meta["kind"] not in KINDS:
        raise MorphsynthError(f"{meta_path}: kind: unknown model kind '{meta['kind']}' (known: {', '.join(KINDS)})")
    stft = meta["stft"]
    try:
        settings = StftSettings(int(stft["sample_rate"]), int(stft["n_fft"]), int(stft["hop"]))
    except (KeyError, TypeError, ValueError):
        raise MorphsynthError(f"{meta_path}: stft: expected sample_rate, n_fft and hop") from None
    if settings.sample_rate != meta["sample_rate"]:
        raise MorphsynthError(f"{meta_path}: sample_rate {meta['sample_rate']} disagrees with stft.sample_rate {settings.sample_rate}")
    if settings.n_bins != meta["n_bins"] or meta["n_bins"] != N_BINS:
        raise MorphsynthError(f"{meta_path}: n_bins {meta['n_bins']} does not match stft n_fft {settings.n_fft} "
                              f"(this build's models use {N_BINS} bins)")
    if meta["model_config"].get("latent_dim") != meta["latent_dim"]:
        raise MorphsynthError(f"{meta_path}: latent_dim {meta['latent_dim']} disagrees with model_config.latent_dim")
    norm = meta["normalisation"]
    if not isinstance(norm, dict) or len(norm.get("mean", [])) != N_BINS or "std" not in norm:
        raise MorphsynthError(f"{meta_path}: normalisation: expected 'mean' with {N_BINS} values and 'std'")
    if float(norm.get("log_eps", LOG_EPS)) != LOG_EPS:
        raise MorphsynthError(f"{meta_path}: normalisation.log_eps {norm.get('log_eps')} is not {LOG_EPS}")
    meta["_stft"] = settings
    return meta


def load_network(path: str | Path, device: str | torch.device | None = None) -> tuple[SpectralAutoencoder, dict, str]:
    """(network with weights, checked metadata, model hash) from a model folder."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_model_json(path)
    weights = path / WEIGHTS_FILE
    if not weights.is_file():
        raise MorphsynthError(f"{weights}: missing")
    net = build_network(meta["kind"], meta["model_config"], int(meta["n_frames"]))
    net.set_normalisation(torch.tensor(meta["normalisation"]["mean"]), float(meta["normalisation"]["std"]))
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise MorphsynthError(f"{weights}: not a readable safetensors file ({str(exc).splitlines()[0][:80]})") from None
    expected = net.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            raise MorphsynthError(f"{weights}: tensor '{key}' missing for a {meta['kind']} with this model_config")
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise MorphsynthError(f"{weights}: tensor '{key}' has shape {list(state[key].shape)}, "
                                  f"model_config expects {list(tensor.shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise MorphsynthError(f"{weights}: unexpected tensor '{extra[0]}' for a {meta['kind']} with this model_config")
    net.load_state_dict(state)
    for key, tensor in net.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise MorphsynthError(f"{weights}: tensor '{key}' holds NaN or infinite values")
    if device is not None:
        net = net.to(device)
    return net, meta, file_sha256(weights)


def load_synth_model(path: str | Path, device: str | torch.device | None = None,
                     expect_stft: StftSettings | None = None) -> SynthModel:
    """Load a model folder into a :class:`SynthModel` (CPU unless ``device`` says otherwise).

    ``expect_stft``: refuse a model whose STFT settings differ (the caller's audio path).
    """
    net, meta, digest = load_network(path)
    stft = meta["_stft"]
    if expect_stft is not None and stft != expect_stft:
        raise MorphsynthError(f"{Path(path) / META_FILE}: stft {stft} does not match the expected {expect_stft}")
    return SynthModel(net, meta.get("name") or Path(path).name, stft, digest, device or "cpu", meta.get("info"))


def tensor_hash(net: SpectralAutoencoder) -> str:
    """sha256 over the state tensors, for a model that lives only in memory."""
    h = hashlib.sha256()
    for key, value in sorted(net.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def as_synth_model(net: SpectralAutoencoder, name: str, stft: StftSettings = StftSettings(),
                   device: str | torch.device = "cpu") -> SynthModel:
    """Wrap an in-memory network (e.g. right after training) without saving it."""
    import copy

    return SynthModel(copy.deepcopy(net), name, stft, tensor_hash(net), device)


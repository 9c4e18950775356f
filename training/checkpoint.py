"""Resumable training state: safetensors for every tensor, JSON for the rest.

A checkpoint folder holds ``state.safetensors`` (model weights ``model/<key>``,
optimizer tensors ``optim/<param index>/<name>``, the torch RNG ``rng/torch``) and
``state.json`` (format version, model kind and config, STFT settings, sample rate,
latent size, normalisation, progress counters and history, optimizer hyper-parameters
and scalar state, the sha256 of the tensor file). Nothing is unpickled: the
optimizer's ``state_dict`` is flattened into those two files and rebuilt on load.

Loading checks everything against what the caller is about to train and refuses a
mismatch or a damaged file with a one-line :class:`MorphsynthError`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from morphsynth.core.errors import MorphsynthError
from morphsynth.core.files import atomic_path, read_versioned_json, write_json
from morphsynth.core.model import SpectralAutoencoder
from morphsynth.core.spectral import StftSettings
from morphsynth.core.synth_model import file_sha256

FORMAT = "morphsynth-checkpoint"
FORMAT_VERSION = 1
TENSORS_FILE = "state.safetensors"
JSON_FILE = "state.json"


@dataclass
class Progress:
    """The counters a resumed run continues from."""

    step: int = 0
    epoch: int = 0  # epochs completed
    best_valid: float = math.inf
    best_epoch: int = -1
    epochs_since_best: int = 0
    elapsed_s: float = 0.0
    history: list[dict] = field(default_factory=list)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'inf' / 'nan': JSON has no literal for them
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _from_json_float(value) -> float:
    return float(value)


def save_checkpoint(folder: str | Path, net: SpectralAutoencoder, optimizer: torch.optim.Optimizer,
                    progress: Progress, stft: StftSettings, extra: dict | None = None) -> None:
    """Write the resumable state to ``folder`` (files replaced atomically)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    opt = optimizer.state_dict()
    scalar_state: dict[str, dict] = {}
    for idx, per_param in opt["state"].items():
        for name, value in per_param.items():
            if torch.is_tensor(value):
                tensors[f"optim/{idx}/{name}"] = value.detach().cpu().contiguous()
            else:
                scalar_state.setdefault(str(idx), {})[name] = value
    tensors["rng/torch"] = torch.get_rng_state()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": net.kind,
        "model_config": asdict(net.config),
        "stft": {"sample_rate": stft.sample_rate, "n_fft": stft.n_fft, "hop": stft.hop},
        "sample_rate": stft.sample_rate,
        "latent_dim": net.latent_dim,
        "n_frames": net.n_frames,
        "normalisation": {"mean": [float(v) for v in net.norm_mean.cpu()], "std": float(net.norm_std.cpu())},
        "progress": _json_safe(asdict(progress)),
        "optimizer": {"param_groups": opt["param_groups"], "scalar_state": scalar_state},
        "extra": extra or {},
    }
    with atomic_path(folder / TENSORS_FILE) as tmp_t:
        save_file(tensors, str(tmp_t), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
        meta["tensors_sha256"] = file_sha256(tmp_t)
        write_json(folder / JSON_FILE, meta)


def has_checkpoint(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / JSON_FILE).is_file() or (folder / TENSORS_FILE).is_file()


def read_checkpoint_json(folder: str | Path) -> dict:
    return read_versioned_json(Path(folder) / JSON_FILE, FORMAT, FORMAT_VERSION, "checkpoint",
                               missing="no checkpoint to resume from")


def load_checkpoint(folder: str | Path, net: SpectralAutoencoder, optimizer: torch.optim.Optimizer,
                    stft: StftSettings) -> Progress:
    """Restore ``net`` (weights and normalisation), ``optimizer`` and the torch RNG; return the progress.

    ``net`` must already be built from the config being resumed: a different kind,
    model config, STFT or latent size is refused, naming the field.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = read_checkpoint_json(folder)
    where = folder / JSON_FILE
    if meta.get("kind") != net.kind:
        raise MorphsynthError(f"{where}: kind '{meta.get('kind')}' does not match the config's '{net.kind}'")
    saved_cfg, want_cfg = meta.get("model_config", {}), asdict(net.config)
    for key in sorted(set(saved_cfg) | set(want_cfg)):
        if saved_cfg.get(key) != want_cfg.get(key):
            raise MorphsynthError(f"{where}: model_config.{key} is {saved_cfg.get(key)!r} in the checkpoint "
                                  f"but {want_cfg.get(key)!r} in the config")
    want_stft = {"sample_rate": stft.sample_rate, "n_fft": stft.n_fft, "hop": stft.hop}
    if meta.get("stft") != want_stft or meta.get("sample_rate") != stft.sample_rate:
        raise MorphsynthError(f"{where}: stft {meta.get('stft')} does not match {want_stft}")
    if meta.get("latent_dim") != net.latent_dim or meta.get("n_frames") != net.n_frames:
        raise MorphsynthError(f"{where}: latent_dim/n_frames {meta.get('latent_dim')}/{meta.get('n_frames')} "
                              f"do not match {net.latent_dim}/{net.n_frames}")
    tensors_path = folder / TENSORS_FILE
    if not tensors_path.is_file():
        raise MorphsynthError(f"{tensors_path}: missing")
    if file_sha256(tensors_path) != meta.get("tensors_sha256"):
        raise MorphsynthError(f"{tensors_path}: contents do not match the sha256 in {JSON_FILE}; the checkpoint is damaged")
    try:
        tensors = load_file(str(tensors_path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise MorphsynthError(f"{tensors_path}: not a readable safetensors file ({str(exc).splitlines()[0][:80]})") from None

    model_state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    expected = net.state_dict()
    for key, value in expected.items():
        got = model_state.get(key)
        if got is None or tuple(got.shape) != tuple(value.shape):
            shape = None if got is None else list(got.shape)
            raise MorphsynthError(f"{tensors_path}: tensor 'model/{key}' is {shape}, expected {list(value.shape)}")
    net.load_state_dict(model_state)
    norm = meta["normalisation"]
    net.set_normalisation(torch.tensor(norm["mean"]), norm["std"])

    opt_meta = meta["optimizer"]
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, idx, name = key.split("/", 2)
            state.setdefault(int(idx), {})[name] = value
    for idx, scalars in opt_meta.get("scalar_state", {}).items():
        state.setdefault(int(idx), {}).update(scalars)
    # JSON turned tuples (Adam's betas) into lists; torch compares hyper-parameters by value.
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in opt_meta["param_groups"]]
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise MorphsynthError(f"{where}: optimizer state does not fit this model ({exc})") from None
    torch.set_rng_state(tensors["rng/torch"])

    p = meta["progress"]
    return Progress(step=int(p["step"]), epoch=int(p["epoch"]), best_valid=_from_json_float(p["best_valid"]),
                    best_epoch=int(p["best_epoch"]), epochs_since_best=int(p["epochs_since_best"]),
                    elapsed_s=float(p["elapsed_s"]), history=list(p["history"]))

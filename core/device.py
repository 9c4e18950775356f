"""Which torch device to run on, shared by training and the server's renderer."""

from __future__ import annotations

import torch

from morphsynth.core.errors import MorphsynthError


def pick_device(name: str | None = None, what: str = "--device") -> torch.device:
    """``name`` if given, else CUDA, then Apple MPS, then CPU; ``what`` names the setting in errors."""
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise MorphsynthError(f"{what} {name}: not a torch device name (cpu, cuda, cuda:1, mps)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise MorphsynthError(f"{what} {name}: CUDA is not available here")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise MorphsynthError(f"{what} {name}: MPS is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")

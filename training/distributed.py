"""DistributedDataParallel helpers for ``torchrun`` launches.

``torchrun --nproc_per_node=N -m morphsynth train ...`` sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`init_from_env` joins the process group
(NCCL on CUDA, gloo elsewhere). Every rank trains on its shard of each epoch
(``DistributedSampler``), gradients are averaged by DDP, and only rank 0 logs and
writes files. Without those variables everything degrades to one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group if launched by ``torchrun`` with more than one process."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local_rank)


def device_for(info: DistInfo, requested: torch.device) -> torch.device:
    """One GPU per local rank under CUDA; the requested device otherwise."""
    if requested.type == "cuda" and info.enabled:
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return requested


def wrap(net: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    """``net`` wrapped in DDP when distributed (rank 0's weights are broadcast on wrap)."""
    if not info.enabled:
        return net
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(net, device_ids=ids)


def unwrap(net: nn.Module) -> nn.Module:
    return net.module if hasattr(net, "module") and isinstance(net.module, nn.Module) else net


def epoch_indices(n: int, info: DistInfo, epoch: int, seed: int, shuffle: bool = True) -> list[int]:
    """This rank's note indices for ``epoch``: a ``DistributedSampler`` shard (whole set when alone).

    The permutation depends only on ``seed`` and ``epoch``, so a resumed run
    sees the same order it would have seen.
    """
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n), num_replicas=info.world_size, rank=info.rank,
                                 shuffle=shuffle, seed=seed, drop_last=False)
    sampler.set_epoch(epoch)
    return list(sampler)


def broadcast_flag(flag: bool, info: DistInfo) -> bool:
    """Rank 0's decision for everyone (stopping must agree or the ranks deadlock)."""
    if not info.enabled:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.broadcast(t, src=0)
    return bool(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def replica_checksums(net: nn.Module, info: DistInfo) -> list[str]:
    """sha256 of every rank's parameters (one entry per rank, gathered everywhere).

    DDP keeps replicas identical by construction; a run records this so that a
    broken launch (ranks built from different configs or seeds) shows up.
    """
    import hashlib

    h = hashlib.sha256()
    for p in unwrap(net).parameters():
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    mine = h.hexdigest()
    if not info.enabled:
        return [mine]
    import torch.distributed as dist

    out: list = [None] * info.world_size
    dist.all_gather_object(out, mine)
    return [str(x) for x in out]

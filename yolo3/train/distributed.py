"""Several processes (one machine or many): PyTorch DDP started by `torchrun`.

`torchrun --nproc_per_node N -m yolo3 train …` sets RANK / WORLD_SIZE / LOCAL_RANK; the
process group uses gloo on CPU and NCCL on CUDA. Each epoch every rank takes its share
of one global permutation (the distributed sampler below), padded so all ranks run the
same number of steps (DDP needs every rank in every all-reduce). Only rank 0 writes
files; it validates and broadcasts the decisions (best, early stop).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """This process's place: rank in [0, world_size), local_rank on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str) -> DistInfo:
    """Joins the process group when started by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistInfo(rank, world, local)


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def epoch_indices(n: int, epoch: int, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True) -> list[int]:
    """This rank's sample indices for `epoch`: a permutation seeded by (seed, epoch),
    padded by wrapping to a multiple of world_size, then every world_size-th from rank.

    A pure function of its arguments, so a resumed run sees the same order.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    if world_size > 1 and n % world_size:
        order = np.concatenate([order, order[: world_size - n % world_size]])
    return order[rank::world_size].tolist()


def wrap_model(model: nn.Module, info: DistInfo, sync_bn: bool) -> nn.Module:
    """DDP-wraps `model` (SyncBatchNorm first when asked) when distributed."""
    if not info.enabled:
        return model
    if sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [info.local_rank] if next(model.parameters()).is_cuda else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def broadcast(value: T, info: DistInfo) -> T:
    """Rank 0's `value` on every rank (any picklable object)."""
    if not info.enabled:
        return value
    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_true(flag: bool, info: DistInfo) -> bool:
    """True when `flag` holds on every rank (ranks must agree to skip a step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([0 if flag else 1], dtype=torch.int32)
    dist.all_reduce(t)
    return int(t.item()) == 0


@torch.no_grad()
def average_buffers(model: nn.Module, info: DistInfo) -> None:
    """Averages floating buffers (BatchNorm running stats) over ranks, so every rank
    ends an epoch with the same full state (DDP syncs only at the next forward)."""
    if not info.enabled:
        return
    for buf in model.buffers():
        if buf.dtype.is_floating_point:
            dist.all_reduce(buf)
            buf.div_(info.world_size)

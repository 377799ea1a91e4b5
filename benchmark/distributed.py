"""Data-parallel training across processes started by ``torchrun`` (DistributedDataParallel).

Under ``torchrun --nproc_per_node=W run_benchmark.py ...`` every process runs the same sweep; the shared trainer
splits each global batch of ``batch_size`` images into W equal shards (``batch_size / W`` per process), so the
effective batch, the iterations per epoch and the learning-rate schedule are those of one process. Gradients are
averaged across processes by DDP; in-batch terms (contrastive negatives, batch statistics) see one shard. Rank 0
alone writes checkpoints, logs and run records. Without ``torchrun`` (world size 1) nothing here changes anything.
"""
from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import torch
import torch.distributed as dist

from benchmark.core.errors import GFaceError


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group torchrun describes (NCCL on GPU, gloo on CPU); returns this process's device."""
    if not launched_by_torchrun() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=30))
    return device


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def shard_size(batch_size: int) -> int:
    """Images per process in one global batch; the batch must split evenly."""
    world = world_size()
    if batch_size % world:
        raise GFaceError(f"batch size {batch_size} does not split over {world} processes; set the method's "
                         f"batch_size to a multiple of {world} (--set METHOD.batch_size=...)")
    return batch_size // world


def shard(positions: torch.Tensor) -> torch.Tensor:
    """This process's contiguous share of a global batch of positions."""
    size = shard_size(len(positions))
    return positions[rank() * size:(rank() + 1) * size]


def view_generator(seed: int, epoch: int) -> torch.Generator:
    """Augmentation randomness of one process in one epoch: distinct per rank, a pure function of its inputs."""
    key = hashlib.sha256(f"views|{seed}|{epoch}|{rank()}".encode()).hexdigest()
    return torch.Generator().manual_seed(int(key[:15], 16))


class StepModule(torch.nn.Module):
    """Runs a training step inside ``forward`` so DDP sees the whole loss computation, whichever submodules the
    step calls."""

    def __init__(self, model: torch.nn.Module, step):
        super().__init__()
        self.model, self.step = model, step

    def forward(self, batch):
        return self.step(self.model, batch)


def data_parallel(model: torch.nn.Module, step) -> torch.nn.Module:
    """DDP over ``StepModule``; unused parameters allowed (a loss term with weight 0 skips its head)."""
    return torch.nn.parallel.DistributedDataParallel(StepModule(model, step), find_unused_parameters=True)


def sync_buffers(model: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every process, so evaluation agrees across ranks."""
    if world_size() > 1:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)

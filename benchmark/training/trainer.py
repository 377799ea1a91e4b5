"""The shared training loop: balanced sampler, on-device views, SGD, Adam or AdamW with a per-epoch cosine or
exponential schedule (``optimisers.py``), bf16 autocast on GPU, a checkpoint after every epoch and exact
resume from it (CPU, fixed seed).

Under ``torchrun`` (``benchmark/distributed.py``) each global batch is split evenly over the processes and wrapped
in DistributedDataParallel; the effective batch and the iterations per epoch stay those of one process.
"""
from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from benchmark import distributed
from benchmark.core import atomic
from benchmark.core.errors import GFaceError
from benchmark.core.paths import CHECKPOINT
from benchmark.training.finetune import train_mode
from benchmark.training.optimisers import build_optimiser
from benchmark.training.sampler import balanced_epoch, shuffled_epoch

log = logging.getLogger("gface")


@dataclass(frozen=True)
class OptimConfig:
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    decay_1d: bool  # GCD decays every parameter; SimGCD exempts biases and 1-D parameters
    min_lr_ratio: float = 1e-3  # cosine annealing to lr * 1e-3
    clip_grad_norm: float | None = None  # global gradient-norm clipping (DIG-FACE: 100); None = no clipping
    optimizer: str = "sgd"  # "sgd" (momentum), "adam" (L2 weight decay; Open-Set-FER) or "adamw" (MEK)
    lr_decay: float | None = None  # exponential decay factor per epoch instead of the cosine schedule
    warmup_fraction: float = 0.0  # linear learning-rate warm-up over this fraction of all steps (0 = none)
    lr_milestones: tuple[int, ...] = ()  # step decay: lr x lr_milestone_gamma at each of these epochs
    lr_milestone_gamma: float = 0.1


@dataclass
class Batch:
    views: torch.Tensor  # (2B, ...): view 1 of every image, then view 2 (images, or trunk outputs from a view bank)
    labels: torch.Tensor  # (B,) re-indexed labels; -1 for unlabelled images (never to be read by a loss)
    is_labelled: torch.Tensor  # (B,) bool
    epoch: int
    step: int  # global iteration index (0-based), derived from epoch and position: it resumes exactly
    total_steps: int  # iterations of the whole training


StepFn = Callable[[torch.nn.Module, Batch], tuple[torch.Tensor, dict[str, float]]]
AugmentFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # uint8 (B, H, W, 3) batch -> model input
ViewFn = Callable[[np.ndarray, torch.Generator], torch.Tensor]  # task rows of a batch -> model input on the device
EpochStartFn = Callable[[torch.nn.Module, int], None]  # (model, epoch) before the epoch's first batch


def image_views(images: np.ndarray, device: torch.device, augment: AugmentFn) -> ViewFn:
    """Views made on the device from the uint8 images of the batch's rows."""
    return lambda rows, generator: augment(torch.from_numpy(np.ascontiguousarray(images[rows])).to(device),
                                           generator)


@dataclass
class TrainStats:
    epochs_run: int
    resumed_from_epoch: int
    seconds: float
    images_per_second: float
    effective_batch_size: int  # images per optimiser step, over all processes
    batch_size_per_process: int
    iterations_per_epoch: int


def fit(model: torch.nn.Module, step: StepFn, make_views: ViewFn, labelled_idx: np.ndarray,
        labelled_y: np.ndarray, unlabelled_idx: np.ndarray, optim: OptimConfig, work_dir: Path, seed: int,
        device: torch.device, desc: str, epoch_start: EpochStartFn | None = None) -> TrainStats:
    """Train ``model`` in place; resumes from ``work_dir/checkpoint.pt`` when a killed run left one.

    ``make_views(rows, generator)`` gives the model's input for a batch of task rows (``image_views``: augmented
    images; ``view_bank.ViewBank``: stored trunk outputs). With an empty ``unlabelled_idx`` every epoch is a
    shuffled pass over the labelled rows (supervised training). ``epoch_start(model, epoch)``, if given, runs before
    each epoch's batches (also the first epoch after a resume), outside autocast and without the trainer's generator,
    so it cannot shift the sampling; the model is put in train mode after it (e.g. a memory of embeddings refreshed
    once per epoch; keep its state out of the state dict or make it a function of the model and the epoch).
    """
    model.to(device=device, memory_format=torch.channels_last)  # about 1.3x faster convolutions on CPU
    optimizer, scheduler = build_optimiser(model, optim)
    generator = torch.Generator().manual_seed(seed)
    start = _resume(Path(work_dir) / CHECKPOINT, model, optimizer, scheduler, generator)
    rows = np.concatenate([labelled_idx, unlabelled_idx])
    labels = torch.cat([torch.as_tensor(labelled_y, dtype=torch.long),
                        torch.full((len(unlabelled_idx),), -1, dtype=torch.long)])
    n_batches = (len(labelled_idx) + len(unlabelled_idx)) // optim.batch_size  # per epoch, as balanced_epoch
    if n_batches == 0:
        raise GFaceError(f"{desc}: batch size {optim.batch_size} exceeds the {len(rows)} training images, so an "
                         f"epoch would make no optimiser step; lower the method's batch_size")
    parallel = distributed.world_size() > 1
    per_process = distributed.shard_size(optim.batch_size)
    ddp = distributed.data_parallel(model, step) if parallel else None
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    n_images, t0 = 0, time.perf_counter()
    for epoch in range(start, optim.epochs):
        if epoch_start is not None:
            epoch_start(model, epoch)
        train_mode(model)
        batches = (balanced_epoch(len(labelled_idx), len(unlabelled_idx), optim.batch_size, generator)
                   if len(unlabelled_idx) else shuffled_epoch(len(labelled_idx), optim.batch_size, generator))
        view_rng = distributed.view_generator(seed, epoch) if parallel else generator
        running: dict[str, float] = {}
        bar = tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{optim.epochs}", unit="batch", leave=False,
                   disable=not distributed.is_main())
        for index, global_positions in enumerate(bar):
            positions = distributed.shard(global_positions) if parallel else global_positions
            batch = Batch(make_views(rows[positions.numpy()], view_rng), labels[positions].to(device),
                          (labels[positions] >= 0).to(device), epoch, epoch * n_batches + index,
                          optim.epochs * n_batches)
            with autocast:
                loss, logs = ddp(batch) if parallel else step(model, batch)
            optimiser_step(model, optimizer, loss, optim.clip_grad_norm,
                           warmup_factor(batch.step, batch.total_steps, optim.warmup_fraction))
            n_images += len(global_positions)
            running = {k: 0.9 * running.get(k, v) + 0.1 * v for k, v in {"loss": loss.item(), **logs}.items()}
            bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        scheduler.step()
        if distributed.is_main():
            _save(Path(work_dir) / CHECKPOINT, epoch + 1, model, optimizer, scheduler, generator)
    distributed.sync_buffers(model)
    seconds = time.perf_counter() - t0
    return TrainStats(optim.epochs - start, start, round(seconds, 2), round(n_images / max(seconds, 1e-9), 1),
                      optim.batch_size, per_process, n_batches)


def warmup_factor(step: int, total_steps: int, fraction: float) -> float:
    """``(step + 1) / W`` for the first ``W = ceil(fraction * total_steps)`` steps, then 1."""
    warmup_steps = math.ceil(fraction * total_steps)
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0


def optimiser_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
                   clip_grad_norm: float | None, lr_factor: float = 1.0) -> None:
    """Backward pass, optional global gradient-norm clipping, one optimiser step at ``lr_factor`` times the
    scheduled learning rate (the schedule itself never sees the factor)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    scheduled = [group["lr"] for group in optimizer.param_groups]
    for group, lr in zip(optimizer.param_groups, scheduled):
        group["lr"] = lr * lr_factor
    optimizer.step()
    for group, lr in zip(optimizer.param_groups, scheduled):
        group["lr"] = lr


def _save(path: Path, epoch: int, model, optimizer, scheduler, generator: torch.Generator) -> None:
    buffer = io.BytesIO()
    torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "generator": generator.get_state()}, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def _resume(path: Path, model, optimizer, scheduler, generator: torch.Generator) -> int:
    """The epoch to start from: that of the checkpoint at ``path``, or 0. A checkpoint that cannot be loaded
    (truncated, foreign) is moved aside to ``<name>.corrupt`` and training starts again."""
    if not path.exists():
        return 0
    snapshot = [_state_of(part) for part in (model, optimizer, scheduler)] + [generator.get_state()]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        return int(state["epoch"])
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, the remedy is the same
        aside = path.with_name(path.name + ".corrupt")
        path.replace(aside)
        for part, saved in zip((model, optimizer, scheduler), snapshot):
            part.load_state_dict(saved)
        generator.set_state(snapshot[-1])
        log.warning("checkpoint %s could not be loaded (%s: %s); moved it to %s and training starts again",
                    path, type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "", aside)
        return 0


def _state_of(part) -> dict:
    """A deep copy of a state dict, so a failed partial load can be undone."""
    buffer = io.BytesIO()
    torch.save(part.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)

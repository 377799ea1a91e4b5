"""Training loop for SynthFaceCNN: identity classification, SimCLR, their sum, or clip contrast.

Used twice: to pretrain the expression-blind backbone (labels = identity or clip ids, never expressions) and by
the supervised oracle (labels = expression classes). Deterministic for a given config seed.

Clip contrast: the images come in clips, frames of one person under one pose, lighting and camera that differ
only in random facial movements (like frames of a talking-head video). Each frame's positive is another
augmented view of itself; its negatives are the other frames of its own clip only, so the features must
encode the facial movement, not the person or the photograph.
"""
from __future__ import annotations

import contextlib
import json
import random
from dataclasses import asdict, dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from datasets.synthface.backbone.augment import AUGMENTATIONS

OBJECTIVES = ("classification", "simclr", "classification+simclr", "clip-contrast")
TRAINING_VERSION = "2"  # bump when the training code changes what a config produces (it keys cached weights)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines the trained weights (with the data and the architecture).

    ``n_images``, ``n_identities`` and ``clip_length`` describe the rendered pretraining set (the oracle trains
    on a given set). Clip contrast draws ``batch_size // clip_length`` whole clips per batch.
    """

    objective: str
    n_images: int
    epochs: int
    augmentation: str = "strong"
    n_identities: int = 2000
    clip_length: int = 8
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    temperature: float = 0.2
    min_crop_area: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be one of {tuple(AUGMENTATIONS)}, got {self.augmentation!r}")
        if self.objective == "clip-contrast" and (self.clip_length < 2 or self.batch_size % self.clip_length):
            raise ValueError(f"clip contrast needs clip_length >= 2 dividing batch_size={self.batch_size}")

    def key_text(self) -> str:
        return json.dumps({**asdict(self), "training_version": TRAINING_VERSION}, sort_keys=True)


DEFAULT_CONFIG = PretrainConfig(objective="clip-contrast", n_images=8000, epochs=4, augmentation="mild",
                                min_crop_area=0.8)


@dataclass
class TrainResult:
    """The trained feature extractor, its classification head (None without one) and input normalisation."""

    model: nn.Module
    head: nn.Module | None
    mean: np.ndarray
    std: np.ndarray


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Seed python/numpy/torch and switch on deterministic algorithms for the block; yields a data generator."""
    previous = torch.are_deterministic_algorithms_enabled()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    try:
        yield torch.Generator().manual_seed(seed)
    finally:
        torch.use_deterministic_algorithms(previous)


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 (N, H, W, 3) images, on the [0, 1] scale."""
    pixels = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    return pixels.mean(0).astype(np.float32), pixels.std(0).astype(np.float32)


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1]."""
    return batch.permute(0, 3, 1, 2).float().div_(255.0)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float,
            groups: torch.Tensor | None = None) -> torch.Tensor:
    """SimCLR InfoNCE over 2B rows: each row's positive is the other view of its image.

    With ``groups`` (B,), a row's negatives are only the rows of its own group (its clip).
    """
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    if groups is not None:
        both = torch.cat([groups, groups])
        logits = logits.masked_fill(both[:, None] != both[None, :], float("-inf"))
    b = z1.shape[0]
    targets = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    return F.cross_entropy(logits, targets)


def projection_head(feature_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True),
                         nn.Linear(feature_dim, 128))


def grouped_order(labels: torch.Tensor, group_size: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation in runs of ``group_size`` indices sharing a label; leftovers of a label dropped."""
    shuffled = torch.randperm(len(labels), generator=generator)
    by_label = shuffled[torch.argsort(labels[shuffled], stable=True)]
    runs = [chunk for run in torch.split(by_label, torch.bincount(labels).tolist())
            for chunk in torch.split(run, group_size) if len(chunk) == group_size]
    return torch.cat([runs[i] for i in torch.randperm(len(runs), generator=generator)])


def train(make_model: Callable[[], nn.Module], images: np.ndarray, labels: np.ndarray, config: PretrainConfig,
          *, desc: str = "training synthface-cnn") -> TrainResult:
    """Train a fresh ``make_model()`` (whose ``feature_dim`` names its output width) on uint8 (N, H, W, 3) images.

    ``labels`` (0..C-1) are classification targets (identities or expressions) or, for clip contrast, clip ids;
    SimCLR ignores them. SGD with Nesterov momentum, one-cycle learning rate, a new seeded order every epoch
    (last partial batch dropped).
    """
    mean, std = channel_stats(images)
    norm_mean, norm_std = torch.from_numpy(mean).view(1, 3, 1, 1), torch.from_numpy(std).view(1, 3, 1, 1)
    data, targets = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels.astype(np.int64))
    augment = AUGMENTATIONS[config.augmentation]
    clips = config.objective == "clip-contrast"
    with seeded(config.seed) as generator:
        model = make_model().to(memory_format=torch.channels_last)  # about 1.4x faster convolutions on CPU
        classify = config.objective in ("classification", "classification+simclr")
        contrast = config.objective != "classification"
        head = nn.Linear(model.feature_dim, int(labels.max()) + 1) if classify else None
        projector = projection_head(model.feature_dim) if contrast else None
        modules = nn.ModuleList([m for m in (model, head, projector) if m is not None]).train()
        optimizer = torch.optim.SGD(modules.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
        draw = (lambda: grouped_order(targets, config.clip_length, generator)) if clips else \
            (lambda: torch.randperm(len(images), generator=generator))
        usable = int((torch.bincount(targets) // config.clip_length).sum()) * config.clip_length if clips \
            else len(images)
        steps_per_epoch = usable // config.batch_size
        if steps_per_epoch == 0:
            raise ValueError(f"need at least batch_size={config.batch_size} usable images, got {usable}")
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                       total_steps=config.epochs * steps_per_epoch)
        view = lambda x: _normalise(augment(x, generator, config.min_crop_area), norm_mean, norm_std)  # noqa: E731
        with tqdm(total=config.epochs * steps_per_epoch, desc=desc, unit="step") as bar:
            for _ in range(config.epochs):
                order = draw()
                for step in range(steps_per_epoch):
                    index = order[step * config.batch_size:(step + 1) * config.batch_size]
                    x = to_float(data[index])
                    features = model(view(x))
                    loss = torch.zeros(())
                    if classify:
                        loss = loss + F.cross_entropy(head(features), targets[index])
                    if contrast:
                        loss = loss + nt_xent(projector(features), projector(model(view(x))), config.temperature,
                                              targets[index] if clips else None)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                    bar.update()
    model.to(memory_format=torch.contiguous_format).eval()
    if head is not None:
        head.eval()
    return TrainResult(model=model, head=head, mean=mean, std=std)


def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def embed(model: nn.Module, images: np.ndarray, mean: Sequence[float], std: Sequence[float],
          batch_size: int = 512) -> np.ndarray:
    """Features (N, feature_dim) float32 of uint8 (N, H, W, 3) images, model in eval mode."""
    model.eval()
    norm_mean, norm_std = (torch.tensor(np.asarray(v, np.float32)).view(1, 3, 1, 1) for v in (mean, std))
    chunks = [model(_normalise(to_float(torch.from_numpy(images[start:start + batch_size])), norm_mean, norm_std))
              for start in range(0, len(images), batch_size)]
    return torch.cat(chunks).numpy()

"""Training loop for SynthFaceCNN: identity classification, SimCLR contrast, or both.

Used twice: to pretrain the expression-blind backbone on synthetic identities (labels = identity ids) and by
the supervised oracle (labels = expression classes). Deterministic for a given config seed.
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

from benchmark.training.grl import reverse_gradient, warm_start_coefficient

OBJECTIVES = ("classification", "simclr", "classification+simclr", "simclr-adversarial")


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines the trained weights (with the data and the architecture).

    ``n_images`` and ``n_identities`` size the rendered pretraining set (the oracle trains on a given set).
    """

    objective: str
    n_images: int
    epochs: int
    n_identities: int = 500
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    temperature: float = 0.2
    min_crop_area: float = 0.5
    adversary_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")

    def key_text(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


DEFAULT_CONFIG = PretrainConfig(objective="classification", n_images=6000, epochs=4)


@dataclass
class TrainResult:
    """The trained feature extractor, its classification head (None for SimCLR alone) and input normalisation."""

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


def augment(x: torch.Tensor, generator: torch.Generator, min_crop_area: float) -> torch.Tensor:
    """Random views that mimic SynthFACE's photographic nuisance, never its expressions.

    Geometry: resized crop, rotation up to 15 degrees, horizontal flip. Photometry (p=0.8): brightness,
    contrast and saturation in [0.6, 1.4]; a linear light ramp up to 0.45; grey (p=0.2). Sensor: Gaussian
    blur (sigma up to 1 px) and noise (sigma up to 7/255).
    """
    b, _, height, width = x.shape
    u = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    area = min_crop_area + (1 - min_crop_area) * u(b)
    ratio = torch.exp((u(b) - 0.5) * 2 * np.log(4 / 3))
    w, h = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
    flip = torch.where(u(b) < 0.5, -1.0, 1.0)
    angle = (2 * u(b) - 1) * np.deg2rad(15)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos * w * flip, -sin * h, (1 - w) * (2 * u(b) - 1)], 1),
                         torch.stack([sin * w * flip, cos * h, (1 - h) * (2 * u(b) - 1)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    jitter = (u(b, 1, 1, 1) < 0.8).float()
    strength = lambda: 1 + jitter * 0.8 * (u(b, 1, 1, 1) - 0.5)  # noqa: E731 - factors in [0.6, 1.4]
    grey = lambda t: (t * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)  # noqa: E731
    x = x * strength()
    mean_grey = grey(x).mean((2, 3), keepdim=True)
    x = (x - mean_grey) * strength() + mean_grey
    x = grey(x) + (x - grey(x)) * strength()
    ramp_angle = 2 * np.pi * u(b, 1, 1, 1)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    x = x * (1 + jitter * 0.45 * u(b, 1, 1, 1) * (ramp_angle.cos() * xs + ramp_angle.sin() * ys))
    x = torch.where(u(b, 1, 1, 1) < 0.2, grey(x).expand_as(x), x)
    x = _gaussian_blur(x, sigma=u(b).clamp(min=1e-3))
    return (x + torch.randn(x.shape, generator=generator) * (7 / 255) * u(b, 1, 1, 1)).clamp_(0, 1)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable 5-tap Gaussian blur with one sigma (pixels) per image."""
    b, c, height, width = x.shape
    taps = torch.arange(-2, 3, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps[None] / sigma[:, None]) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)
    flat = x.reshape(1, b * c, height, width)
    flat = F.conv2d(F.pad(flat, (2, 2, 0, 0), mode="reflect"), kernel.view(b * c, 1, 1, 5), groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, 2, 2), mode="reflect"), kernel.view(b * c, 1, 5, 1), groups=b * c)
    return flat.view(b, c, height, width)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR InfoNCE over 2B rows: each row's positive is the other view of its image."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    b = z1.shape[0]
    targets = torch.cat([torch.arange(b, 2 * b), torch.arange(b)])
    return F.cross_entropy(logits, targets)


def projection_head(feature_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(feature_dim, feature_dim), nn.BatchNorm1d(feature_dim), nn.ReLU(inplace=True),
                         nn.Linear(feature_dim, 128))


def train(make_model: Callable[[], nn.Module], images: np.ndarray, labels: np.ndarray, config: PretrainConfig,
          *, desc: str = "training synthface-cnn") -> TrainResult:
    """Train a fresh ``make_model()`` (whose ``feature_dim`` names its output width) on uint8 (N, H, W, 3) images.

    ``labels`` (0..C-1) are the classification targets; SimCLR ignores them. SGD with Nesterov momentum,
    one-cycle learning rate, batches drawn by a seeded permutation each epoch (last partial batch dropped).
    """
    if len(images) < config.batch_size:
        raise ValueError(f"need at least batch_size={config.batch_size} images, got {len(images)}")
    mean, std = channel_stats(images)
    norm_mean, norm_std = torch.from_numpy(mean).view(1, 3, 1, 1), torch.from_numpy(std).view(1, 3, 1, 1)
    data, targets = torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels.astype(np.int64))
    with seeded(config.seed) as generator:
        model = make_model().to(memory_format=torch.channels_last)  # about 1.4x faster convolutions on CPU
        classify = config.objective != "simclr"
        contrast = config.objective != "classification"
        adversarial = config.objective == "simclr-adversarial"
        head = nn.Linear(model.feature_dim, int(labels.max()) + 1) if classify else None
        projector = projection_head(model.feature_dim) if contrast else None
        modules = nn.ModuleList([m for m in (model, head, projector) if m is not None]).train()
        optimizer = torch.optim.SGD(modules.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
        steps_per_epoch = len(images) // config.batch_size
        total_steps = config.epochs * steps_per_epoch
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                       total_steps=total_steps)
        with tqdm(total=total_steps, desc=desc, unit="step") as bar:
            for _ in range(config.epochs):
                order = torch.randperm(len(images), generator=generator)
                for step in range(steps_per_epoch):
                    index = order[step * config.batch_size:(step + 1) * config.batch_size]
                    x = to_float(data[index])
                    features = model(_normalise(augment(x, generator, config.min_crop_area), norm_mean, norm_std))
                    loss = torch.zeros(())
                    if classify:
                        weight = warm_start_coefficient(bar.n, high=config.adversary_weight, alpha=10,
                                                        max_iters=total_steps) if adversarial else 0.0
                        head_input = reverse_gradient(features, weight) if adversarial else features
                        loss = loss + F.cross_entropy(head(head_input), targets[index])
                    if contrast:
                        other = model(_normalise(augment(x, generator, config.min_crop_area), norm_mean, norm_std))
                        loss = loss + nt_xent(projector(features), projector(other), config.temperature)
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

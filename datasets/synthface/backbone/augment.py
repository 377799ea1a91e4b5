"""Batched, seeded augmentations for SynthFaceCNN training (float (B, 3, H, W) images in [0, 1]).

``strong``: views that mimic SynthFACE's photographic nuisance (for identity and SimCLR objectives, which must
learn to ignore it). ``mild``: small crops, flips and brightness/contrast changes only (for clip contrast, where
nuisance is already shared by the frames of a clip).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_GREY_WEIGHTS = (0.299, 0.587, 0.114)


def strong_augment(x: torch.Tensor, generator: torch.Generator, min_crop_area: float) -> torch.Tensor:
    """Geometry: resized crop, rotation up to 15 degrees, horizontal flip. Photometry (p=0.8): brightness,
    contrast and saturation in [0.6, 1.4] and a linear light ramp up to 0.45; grey (p=0.2). Sensor: Gaussian
    blur (sigma up to 1 px) and noise (sigma up to 7/255)."""
    b, _, height, width = x.shape
    u = _uniform(generator)
    x = _crop_rotate_flip(x, u, min_crop_area, max_degrees=15.0, max_log_ratio=np.log(4 / 3))
    jitter = (u(b, 1, 1, 1) < 0.8).float()
    strength = lambda: 1 + jitter * 0.8 * (u(b, 1, 1, 1) - 0.5)  # noqa: E731 - factors in [0.6, 1.4]
    x = x * strength()
    mean_grey = _grey(x).mean((2, 3), keepdim=True)
    x = (x - mean_grey) * strength() + mean_grey
    x = _grey(x) + (x - _grey(x)) * strength()
    ramp_angle = 2 * np.pi * u(b, 1, 1, 1)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    x = x * (1 + jitter * 0.45 * u(b, 1, 1, 1) * (ramp_angle.cos() * xs + ramp_angle.sin() * ys))
    x = torch.where(u(b, 1, 1, 1) < 0.2, _grey(x).expand_as(x), x)
    x = _gaussian_blur(x, sigma=u(b).clamp(min=1e-3))
    return (x + torch.randn(x.shape, generator=generator) * (7 / 255) * u(b, 1, 1, 1)).clamp_(0, 1)


def mild_augment(x: torch.Tensor, generator: torch.Generator, min_crop_area: float) -> torch.Tensor:
    """Square crop of at least ``min_crop_area``, horizontal flip, brightness and contrast in [0.8, 1.2]."""
    b = x.shape[0]
    u = _uniform(generator)
    x = _crop_rotate_flip(x, u, min_crop_area, max_degrees=0.0, max_log_ratio=0.0)
    x = x * (1 + 0.4 * (u(b, 1, 1, 1) - 0.5))
    mean = x.mean((1, 2, 3), keepdim=True)
    return ((x - mean) * (1 + 0.4 * (u(b, 1, 1, 1) - 0.5)) + mean).clamp_(0, 1)


AUGMENTATIONS = {"strong": strong_augment, "mild": mild_augment}


def _uniform(generator: torch.Generator):
    return lambda *shape: torch.rand(*shape, generator=generator)


def _grey(x: torch.Tensor) -> torch.Tensor:
    return (x * torch.tensor(_GREY_WEIGHTS).view(1, 3, 1, 1)).sum(1, keepdim=True)


def _crop_rotate_flip(x: torch.Tensor, u, min_crop_area: float, max_degrees: float,
                      max_log_ratio: float) -> torch.Tensor:
    """One affine resample per image: crop of area in [min_crop_area, 1], rotation, flip (p=0.5)."""
    b = x.shape[0]
    area = min_crop_area + (1 - min_crop_area) * u(b)
    ratio = torch.exp((2 * u(b) - 1) * max_log_ratio)
    w, h = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
    flip = torch.where(u(b) < 0.5, -1.0, 1.0)
    angle = (2 * u(b) - 1) * np.deg2rad(max_degrees)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos * w * flip, -sin * h, (1 - w) * (2 * u(b) - 1)], 1),
                         torch.stack([sin * w * flip, cos * h, (1 - h) * (2 * u(b) - 1)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


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

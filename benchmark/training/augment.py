"""Training views made on whole batches on the device from the uint8 image cache (benchmark/README.md, "Training
library").

"imagenet" augmentation of GCD/SimGCD: resize to ``size / crop_pct`` (bicubic), random crop ``size``, horizontal
flip with p = 0.5 (the colour jitter of the release has zero strength and is omitted), normalise. The resize is
deterministic, so both views of a batch crop the same resized batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resized(images_uint8: torch.Tensor, size: int, crop_pct: float) -> torch.Tensor:
    """float (B, 3, R, R) in [0, 1], R = ``int(size / crop_pct)``, from a uint8 (B, H, W, 3) batch (bicubic)."""
    x = images_uint8.permute(0, 3, 1, 2).float().div_(255.0)
    side = int(size / crop_pct)
    if x.shape[-2:] != (side, side):
        x = F.interpolate(x, size=(side, side), mode="bicubic", align_corners=False).clamp_(0.0, 1.0)
    return x


def crop_flip_normalise(x: torch.Tensor, size: int, mean, std, generator: torch.Generator) -> torch.Tensor:
    """A random ``size`` crop of each resized image, flipped horizontally with p = 0.5, then normalised."""
    b, slack = x.shape[0], x.shape[-1] - size
    gen_device = generator.device
    top = torch.randint(0, slack + 1, (b,), generator=generator, device=gen_device).to(x.device)
    left = torch.randint(0, slack + 1, (b,), generator=generator, device=gen_device).to(x.device)
    flip = (torch.rand(b, generator=generator, device=gen_device) < 0.5).to(x.device)
    steps = torch.arange(size, device=x.device)
    rows = (top[:, None] + steps)[:, None, :, None]  # (B, 1, S, 1)
    cols = (left[:, None] + torch.where(flip[:, None], steps.flip(0), steps))[:, None, None, :]  # (B, 1, 1, S)
    x = x[torch.arange(b, device=x.device)[:, None, None, None], torch.arange(3, device=x.device)[None, :, None, None],
          rows, cols]
    mean_t = x.new_tensor(mean).view(1, 3, 1, 1)
    std_t = x.new_tensor(std).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


def random_views(images_uint8: torch.Tensor, size: int, crop_pct: float, mean, std,
                 generator: torch.Generator) -> torch.Tensor:
    """One augmented float view (B, 3, size, size) of a uint8 (B, H, W, 3) batch; randomness from ``generator``."""
    return crop_flip_normalise(resized(images_uint8, size, crop_pct), size, mean, std, generator)


def two_views(images_uint8: torch.Tensor, size: int, crop_pct: float, mean, std,
              generator: torch.Generator) -> torch.Tensor:
    """(2B, 3, size, size): view 1 of every image, then view 2 (one resize, two crops)."""
    x = resized(images_uint8, size, crop_pct)
    return torch.cat([crop_flip_normalise(x, size, mean, std, generator) for _ in range(2)])

"""Training views made on whole batches on the device from the uint8 image cache (benchmark/README.md, "Training
library").

"imagenet" augmentation of GCD/SimGCD: resize to ``size / crop_pct`` (bicubic), random crop ``size``, horizontal
flip with p = 0.5 (the colour jitter of the release has zero strength and is omitted), normalise.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_views(images_uint8: torch.Tensor, size: int, crop_pct: float, mean, std,
                 generator: torch.Generator) -> torch.Tensor:
    """One augmented float view (B, 3, size, size) of a uint8 (B, H, W, 3) batch; randomness from ``generator``."""
    x = images_uint8.permute(0, 3, 1, 2).float().div_(255.0)
    resized = int(size / crop_pct)
    if x.shape[-2:] != (resized, resized):
        x = F.interpolate(x, size=(resized, resized), mode="bicubic", align_corners=False).clamp_(0.0, 1.0)
    b, slack = x.shape[0], resized - size
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


def two_views(images_uint8: torch.Tensor, size: int, crop_pct: float, mean, std,
              generator: torch.Generator) -> torch.Tensor:
    """(2B, 3, size, size): view 1 of every image, then view 2."""
    return torch.cat([random_views(images_uint8, size, crop_pct, mean, std, generator) for _ in range(2)])

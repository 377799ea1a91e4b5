"""Training views of the closed-set FER methods (Open-Set-FER, MEK; benchmark/README.md, "Training library").

One view per image: the suite's "imagenet" view (``augment.random_views``: resize, random crop, horizontal flip)
followed by random erasing, as in EAC. For attention consistency the batch is that view, then its exact horizontal
flip (erasing first, then the flip).
"""
from __future__ import annotations

import math

import torch

from benchmark.core.backbone import Backbone
from benchmark.training.augment import random_views
from benchmark.training.trainer import AugmentFn

ERASE_SCALE = (0.02, 0.25)  # area fraction (Open-Set-FER, EAC)
ERASE_RATIO = (0.3, 3.3)  # aspect ratio range of torchvision's RandomErasing


def random_erasing(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Per image, with probability ``p``, set a rectangle to 0 (torchvision's RandomErasing, value 0, after
    normalisation): area ``U(0.02, 0.25)`` of the image, log-uniform aspect ratio in [0.3, 3.3], clipped to the image.
    """
    b, _, height, width = x.shape

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(b, generator=generator, device=generator.device)

    area = height * width * uniform(*ERASE_SCALE)
    ratio = torch.exp(uniform(math.log(ERASE_RATIO[0]), math.log(ERASE_RATIO[1])))
    h = (area * ratio).sqrt().round().clamp(1, height)
    w = (area / ratio).sqrt().round().clamp(1, width)
    top = (uniform(0.0, 1.0) * (height - h + 1)).floor()
    left = (uniform(0.0, 1.0) * (width - w + 1)).floor()
    erase = uniform(0.0, 1.0) < p
    rows = torch.arange(height, device=generator.device)[None, :, None]
    cols = torch.arange(width, device=generator.device)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + h)[:, None, None])
              & (cols >= left[:, None, None]) & (cols < (left + w)[:, None, None]) & erase[:, None, None])
    return x.masked_fill(inside[:, None].to(x.device), 0.0)


def erased_view_maker(backbone: Backbone, crop_pct: float, erase_p: float, with_flip: bool) -> AugmentFn:
    """(B, 3, S, S) erased views, or (2B, 3, S, S) with ``with_flip``: the views, then their horizontal flips."""

    def make(uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        view = random_erasing(random_views(uint8, backbone.input_size, crop_pct, backbone.mean, backbone.std,
                                           generator), erase_p, generator)
        return torch.cat([view, view.flip(-1)]) if with_flip else view

    return make

"""A per-epoch running mean kept in module buffers, so a checkpoint resumes it exactly (UNO+'s best head, ORCA's
mean uncertainty)."""
from __future__ import annotations

import torch
from torch import nn


class EpochMean(nn.Module):
    """Mean of a statistic (a vector of ``size``) over the steps of the current epoch, and over the previous epoch.

    ``update(epoch, value, weight)`` starts a new mean when ``epoch`` changes and moves the finished one (if it saw
    any weight) to ``previous``; a weight of 0 only marks the epoch.
    """

    def __init__(self, size: int = 1):
        super().__init__()
        self.register_buffer("epoch", torch.tensor(-1))
        self.register_buffer("total", torch.zeros(size))
        self.register_buffer("count", torch.tensor(0.0))
        self.register_buffer("previous", torch.zeros(size))
        self.register_buffer("has_previous", torch.tensor(False))

    @torch.no_grad()
    def update(self, epoch: int, value: torch.Tensor, weight: float = 1.0) -> None:
        if int(self.epoch) != epoch:
            if self.count > 0:
                self.previous.copy_(self.total / self.count)
                self.has_previous.fill_(True)
            self.total.zero_()
            self.count.zero_()
            self.epoch.fill_(epoch)
        self.total.add_(value.detach().float().to(self.total.device) * weight)
        self.count.add_(weight)

    def current(self) -> torch.Tensor:
        """The mean over the current epoch so far (zeros before any update)."""
        return self.total / self.count.clamp_min(1e-12)

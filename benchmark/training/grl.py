"""Gradient reversal with the warm-start coefficient schedule of Debiased Self-Training (DST; methods/README.md,
"DIG-FACE").

The coefficient is a pure function of the global iteration index, so a resumed run continues the schedule exactly.
"""
from __future__ import annotations

import math

import torch


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficient: float) -> torch.Tensor:
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coefficient * grad, None


def reverse_gradient(x: torch.Tensor, coefficient: float) -> torch.Tensor:
    """Identity forward; backward multiplies the incoming gradient by ``-coefficient``."""
    return _ReverseGradient.apply(x, coefficient)


def warm_start_coefficient(step: int, low: float = 0.0, high: float = 0.1, alpha: float = 1.0,
                           max_iters: int = 1000) -> float:
    """``2(h-l) / (1 + exp(-alpha t / T)) - (h-l) + l``: ``low`` at t = 0, rising toward ``high``."""
    return 2.0 * (high - low) / (1.0 + math.exp(-alpha * step / max_iters)) - (high - low) + low

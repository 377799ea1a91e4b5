"""Heads of the GCD family: the projection MLP, GCD's DINO head, and SimGCD's cosine prototype classifier."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProjectionMLP(nn.Module):
    """Linear -> GELU -> Linear -> GELU -> Linear (truncated-normal std 0.02 weights, zero biases)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, hidden_dim),
                                    nn.GELU(), nn.Linear(hidden_dim, out_dim))
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@torch.no_grad()
def centre_inputs(projector: ProjectionMLP, features: torch.Tensor) -> None:
    """Data-dependent initialisation: set the first layer's bias to ``-W mean(features)``, so that at initialisation
    the projector sees its input centred (exact where that bias is zero, as at initialisation)."""
    first = projector.layers[0]
    first.bias.copy_(-first.weight @ features.mean(0))


@torch.no_grad()
def scale_to_unit_norm(projector: ProjectionMLP, features: torch.Tensor) -> float:
    """Data-dependent initialisation (in the spirit of LSUV, Mishkin & Matas, ICLR 2016): scale the projector's last
    layer so that the median norm of its output on ``features`` is 1; returns the median norm before. Exact at
    initialisation, where that layer's bias is zero."""
    before = projector(features).norm(dim=1).median().item()
    projector.layers[-1].weight.mul_(1.0 / max(before, 1e-12))
    return before


class CosineLinear(nn.Module):
    """Weight-normalised linear layer without bias and with its gain fixed to 1: cosines of normalised inputs.

    ``n(W) n(x)``; the directions keep PyTorch's default Linear initialisation.
    """

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(nn.Linear(in_dim, out_dim, bias=False).weight.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(x, dim=-1), F.normalize(self.weight, dim=-1))


class DINOHead(nn.Module):
    """GCD's projection head: MLP -> L2 normalise -> cosine layer to ``out_dim`` (65,536 in the paper)."""

    def __init__(self, in_dim: int, hidden_dim: int, bottleneck_dim: int, out_dim: int):
        super().__init__()
        self.mlp = ProjectionMLP(in_dim, hidden_dim, bottleneck_dim)
        self.last_layer = CosineLinear(bottleneck_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(self.mlp(x))

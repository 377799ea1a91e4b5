"""Operations of the Poincaré ball of curvature -c (Ganea et al., "Hyperbolic Neural Networks", NeurIPS 2018), batched
over the last dimension, for the hyperbolic head (training/hyperbolic_head.py)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BOUNDARY_MARGIN = 1e-3  # points stay within (1 - margin) / sqrt(c) of the origin
MIN_NORM = 1e-5


def clip_norm(x: torch.Tensor, radius: float) -> torch.Tensor:
    """Feature clipping (Guo et al., CVPR 2022): ``min(1, radius / ||x||) x``; ``radius`` 0 leaves ``x`` as it is."""
    if radius <= 0:
        return x
    return x * torch.clamp(radius / (x.norm(dim=-1, keepdim=True) + MIN_NORM), max=1.0)


def project(x: torch.Tensor, c: float) -> torch.Tensor:
    """Pull points lying beyond ``(1 - margin) / sqrt(c)`` back onto that sphere."""
    norm = x.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    max_norm = (1 - BOUNDARY_MARGIN) / math.sqrt(c)
    return torch.where(norm > max_norm, x / norm * max_norm, x)


def artanh(x: torch.Tensor) -> torch.Tensor:
    return torch.atanh(x.clamp(-1 + MIN_NORM, 1 - MIN_NORM))


def expmap0(v: torch.Tensor, c: float) -> torch.Tensor:
    """Exponential map at the origin: ``tanh(sqrt(c) ||v||) v / (sqrt(c) ||v||)``."""
    sqrt_c = math.sqrt(c)
    norm = v.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    return torch.tanh((sqrt_c * norm).clamp(max=15.0)) * v / (sqrt_c * norm)


def mobius_add(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """``x ⊕_c y``."""
    xy = (x * y).sum(-1, keepdim=True)
    x2 = x.pow(2).sum(-1, keepdim=True)
    y2 = y.pow(2).sum(-1, keepdim=True)
    numerator = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
    return numerator / (1 + 2 * c * xy + c ** 2 * x2 * y2).clamp_min(MIN_NORM)


def mobius_matvec(weight: torch.Tensor, x: torch.Tensor, c: float) -> torch.Tensor:
    """``weight ⊗_c x`` = ``tanh(||Wx|| / ||x|| artanh(sqrt(c) ||x||)) Wx / (sqrt(c) ||Wx||)`` (rows of ``x``)."""
    sqrt_c = math.sqrt(c)
    x_norm = x.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    wx = x @ weight.T
    wx_norm = wx.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)
    return torch.tanh(wx_norm / x_norm * artanh(sqrt_c * x_norm)) * wx / (wx_norm * sqrt_c)


def pairwise_distance(x: torch.Tensor, y: torch.Tensor, c: float) -> torch.Tensor:
    """Geodesic distances ``2 / sqrt(c) artanh(sqrt(c) ||(-x_i) ⊕_c y_j||)``, shape (len(x), len(y)).

    Uses ``||(-x) ⊕_c y||^2 = ||x - y||^2 / (1 - 2c <x, y> + c^2 ||x||^2 ||y||^2)``, so no (n, m, d) tensor is built.
    """
    xy = x @ y.T
    x2 = x.pow(2).sum(-1, keepdim=True)
    y2 = y.pow(2).sum(-1, keepdim=True).T
    squared = (x2 - 2 * xy + y2).clamp_min(0) / (1 - 2 * c * xy + c ** 2 * x2 * y2).clamp_min(MIN_NORM)
    return 2 / math.sqrt(c) * artanh(math.sqrt(c) * squared.clamp_min(MIN_NORM ** 2).sqrt())


def cosine_similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    x = F.normalize(x, dim=-1)
    return x @ x.T

"""MEK's re-balanced smooth labels (RSL) and class weights (Zhang et al., NeurIPS 2023; methods/README.md,
"Mine-Extra-Knowledge").

Class weights ``w_k = N / (10 n_k)`` come from the counts ``n_k`` of the set being trained on (the labelled set for
the closed-set method); the released code hard-codes RAF-DB's values, the suite always recomputes them.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.core.errors import GFaceError

WEIGHT_SCALE = 10.0  # the 10 of w_k = N / (10 n_k) in the release


def class_weights(counts: torch.Tensor) -> torch.Tensor:
    """``w_k = N / (10 n_k)`` with ``N = sum_k n_k``; every count must be positive."""
    counts = torch.as_tensor(counts, dtype=torch.float32)
    if (counts <= 0).any():
        raise ValueError(f"class counts must be positive, got {counts.tolist()}")
    return counts.sum() / (WEIGHT_SCALE * counts)


def labelled_class_weights(labels: np.ndarray, n_classes: int, class_names: tuple[str, ...] = ()) -> torch.Tensor:
    """Class weights from the histogram of ``labels`` over ``0..n_classes-1``; a class without samples is an error."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)[:n_classes]
    absent = [class_names[k] if k < len(class_names) else str(k) for k in np.flatnonzero(counts == 0)]
    if absent:
        raise GFaceError(f"re-balanced class weights need labelled samples of every class; none for {absent}. "
                         f"Use a protocol whose labelled set covers every known class")
    return class_weights(torch.from_numpy(counts))


def rebalanced_smooth_targets(labels: torch.Tensor, weights: torch.Tensor, epsilon: float) -> torch.Tensor:
    """``t_y = 1 - eps``; ``t_k = eps w_k / sum_{j != y} w_j`` for every other class k."""
    rows = torch.arange(len(labels), device=labels.device)
    others = weights.to(torch.float32).expand(len(labels), -1).clone()
    others[rows, labels] = 0.0
    targets = epsilon * others / others.sum(dim=1, keepdim=True)
    targets[rows, labels] = 1.0 - epsilon
    return targets


def rebalanced_smooth_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
                           epsilon: float) -> torch.Tensor:
    """``L_RSL = mean_n [-sum_k t_k log softmax(o_n)_k]``; zero (with a graph) when there are no rows."""
    if len(labels) == 0:
        return logits.sum() * 0.0
    targets = rebalanced_smooth_targets(labels, weights.to(logits.device), epsilon)
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()

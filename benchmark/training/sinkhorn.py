"""Sinkhorn-Knopp equipartition (Cuturi, NeurIPS 2013; as used for pseudo-labels by SwAV and UNO)."""
from __future__ import annotations

import torch


@torch.no_grad()
def sinkhorn_knopp(logits: torch.Tensor, epsilon: float = 0.05, n_iters: int = 3) -> torch.Tensor:
    """Soft assignments (B, K) of ``B`` rows to ``K`` classes from ``exp(logits / epsilon)``.

    Alternately scales the classes to an equal share ``B / K`` of the rows and each row to a sum of 1, ending with the
    rows: every row sums to 1 exactly, every class to ``B / K`` in the limit of many iterations. No gradient.
    """
    scaled = logits.float() / epsilon
    q = torch.exp(scaled - scaled.max())  # a global shift cancels in the normalisations
    q = q / q.sum()
    n_rows, n_classes = q.shape
    for _ in range(n_iters):
        q = q / (q.sum(0, keepdim=True) * n_classes)
        q = q / (q.sum(1, keepdim=True) * n_rows)
    return q * n_rows

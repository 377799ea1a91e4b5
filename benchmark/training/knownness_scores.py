"""Knownness adapters on a classifier's logits over all K classes, known classes first."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def known_mass(logits: torch.Tensor, n_known: int, temperature: float) -> np.ndarray:
    """Knownness: softmax(logits / temperature) summed over the known classes."""
    return F.softmax(logits.float() / temperature, dim=1)[:, :n_known].sum(1).numpy()

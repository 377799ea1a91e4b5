"""Class activation maps and flip attention consistency (EAC; used by Open-Set-FER and MEK; benchmark/README.md,
"Training library").

A training batch holds an augmented view x of every image, then x', the exact horizontal flip of the same tensor.
"""
from __future__ import annotations

import torch


def class_activation_maps(feature_map: torch.Tensor, classifier_weight: torch.Tensor) -> torch.Tensor:
    """``M[n, k, h, w] = sum_c sg(V[k, c]) F[n, c, h, w]`` for a (N, C, H, W) map and a (K, C) classifier.

    The classifier weights are constants here (no bias), so the consistency loss trains only the features.
    """
    return torch.einsum("kc,nchw->nkhw", classifier_weight.detach(), feature_map)


def flip_discrepancy(cams: torch.Tensor, cams_of_flipped: torch.Tensor) -> torch.Tensor:
    """``d[n, k] = mean_{h,w} (M_k(x_n)[h, w] - M_k(x'_n)[h, W-1-w])^2``: the flipped view's maps are flipped back."""
    return (cams - cams_of_flipped.flip(-1)).pow(2).mean(dim=(2, 3))


def attention_consistency(discrepancy: torch.Tensor) -> torch.Tensor:
    """EAC / Open-Set-FER: the mean of ``d[n, k]`` over samples and all classes."""
    return discrepancy.mean()


def rebalanced_attention_consistency(discrepancy: torch.Tensor, class_weights: torch.Tensor) -> torch.Tensor:
    """MEK's RAC: ``mean_n sum_k w_k d[n, k]`` (weights not normalised)."""
    return (discrepancy * class_weights).sum(dim=1).mean()

"""MEK's losses as an add-on of the parametric GCD methods (methods/README.md, "MEK as an add-on"; suite design).

As in the paper, the re-balanced smooth labels (RSL) *replace* the one-hot targets of the host's cross-entropy on
the labelled rows (``smooth_label_loss``), and the re-balanced attention consistency (RAC, view 1 and its exact flip,
all K classes) is added with the host's weight ``rebalance`` times 0.1 (``attention_consistency``). Class weights
``w_k = N / (10 n_k)`` use estimated class sizes over D_L and D_U: ``n_k`` = labelled count + N_U x the running mean
(momentum 0.99) of the unlabelled rows' soft assignment to class k (``update_class_sizes``), so known and new classes
are counted on the same images; each ``n_k`` is floored at the smallest labelled class count, which caps the weight
of a tiny cluster. The class activation maps use the host's L2-normalised cosine prototypes as the classifier V
(weights detached) on the backbone's last feature map.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.backbone import Backbone
from benchmark.core.errors import GFaceError
from benchmark.training.attention_consistency import (class_activation_maps, flip_discrepancy,
                                                      rebalanced_attention_consistency)
from benchmark.training.rebalance import WEIGHT_SCALE, rebalanced_smooth_loss


def check_inputs(rebalance: float, view_bank: int, method_name: str) -> None:
    """The add-on's attention consistency flips images, so it needs image views, not a view bank's trunk outputs."""
    if rebalance and view_bank:
        raise GFaceError(f"{method_name}.rebalance compares class activation maps of each image and its horizontal "
                         f"flip, which needs images, not the trunk outputs of a view bank; set "
                         f"{method_name}.view_bank=0 or {method_name}.rebalance=0")


class RebalanceAddon(nn.Module):
    """Holds the running class-size estimate as buffers, so checkpoints keep it and a resumed run continues it."""

    def __init__(self, backbone: Backbone, labelled_y: np.ndarray, n_unlabelled: int, n_classes: int,
                 method_name: str, smoothing: float = 0.3, rac_weight: float = 0.1, momentum: float = 0.99):
        super().__init__()
        if backbone.feature_map is None:
            raise GFaceError(f"{method_name}.rebalance needs class activation maps, hence the backbone's last "
                             f"spatial feature map, which backbone {backbone.name!r} does not expose; set "
                             f"{method_name}.rebalance=0 or use a backbone that does (e.g. synthface-cnn)")
        self.map_of, self.n_unlabelled = backbone.feature_map, n_unlabelled
        self.smoothing, self.rac_weight, self.momentum = smoothing, rac_weight, momentum
        counts = np.bincount(np.asarray(labelled_y, dtype=np.int64), minlength=n_classes)
        self.register_buffer("labelled_counts", torch.as_tensor(counts, dtype=torch.float32))
        self.register_buffer("unlabelled_share", torch.full((n_classes,), 1.0 / n_classes))

    def class_weights(self) -> torch.Tensor:
        """``N / (10 max(n_k, smallest labelled count))`` with N = N_L + N_U."""
        counts = self.labelled_counts + self.n_unlabelled * self.unlabelled_share
        floor = self.labelled_counts[self.labelled_counts > 0].min()
        return counts.sum() / (WEIGHT_SCALE * torch.maximum(counts, floor))

    @torch.no_grad()
    def update_class_sizes(self, unlabelled_logits: torch.Tensor, temperature: float) -> None:
        """Fold the batch's mean soft assignment of its unlabelled rows into the running share."""
        if len(unlabelled_logits):
            share = F.softmax(unlabelled_logits.float() / temperature, dim=1).mean(0)
            self.unlabelled_share.mul_(self.momentum).add_((1 - self.momentum) * share)

    def smooth_label_loss(self, scaled_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the labelled rows' scaled logits against re-balanced smooth labels (replaces L_CE)."""
        return rebalanced_smooth_loss(scaled_logits, labels, self.class_weights(), self.smoothing)

    def attention_consistency(self, backbone: nn.Module, views: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
        """``rac_weight`` x L_RAC of ``views`` (view 1 of each image) and their exact flips; ``prototypes`` (K, C)."""
        n = len(views)
        feature_map = self.map_of(backbone, torch.cat([views, views.flip(-1)])).float()
        cams = class_activation_maps(feature_map, F.normalize(prototypes.float(), dim=-1))
        return self.rac_weight * rebalanced_attention_consistency(flip_discrepancy(cams[:n], cams[n:]),
                                                                  self.class_weights())

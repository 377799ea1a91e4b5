"""DIG-FACE's debiasing losses (methods/README.md, "DIG-FACE"), each in the paper reading and, where the released code
differs, in the released-code reading (``released_code=True``; deviations D2, D3, D5, D6)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def worst_case_loss(aux_logits: torch.Tensor, main_logits: torch.Tensor, is_labelled: torch.Tensor,
                    eta_prime: float = 2.0) -> torch.Tensor:
    """DST's worst-case estimation loss on view-1 rows, against the main head's argmax pseudo-labels ŷ:

    ``eta' mean_L CE(a, ŷ) + mean_U -log min(1, 1 - softmax(a)_ŷ + 1e-6)`` (agree on labelled rows, disagree on
    unlabelled ones). An empty part contributes zero.
    """
    pseudo = main_logits.detach().argmax(1)
    zero = aux_logits.sum() * 0.0
    labelled = F.cross_entropy(aux_logits[is_labelled], pseudo[is_labelled]) if is_labelled.any() else zero
    unlabelled = ~is_labelled
    if not unlabelled.any():
        return eta_prime * labelled
    disagreement = 1.0 - F.softmax(aux_logits[unlabelled], dim=1).gather(1, pseudo[unlabelled, None]).squeeze(1)
    return eta_prime * labelled - torch.log(torch.clamp(disagreement + 1e-6, max=1.0)).mean()


def smoothing_factor(step: int, total_steps: int, start: float = 0.1, released_code: bool = False) -> float:
    """``e0 (1 - t / T_tot)``; the released code rebuilds its smoother every iteration, so ``e0`` throughout (D2)."""
    return start if released_code else start * (1.0 - step / total_steps)


def class_adaptive_smoothing_loss(logits: torch.Tensor, labels: torch.Tensor, smoothing: float,
                                  released_code: bool = False) -> torch.Tensor:
    """``mean_i -sum_c g_ic log softmax(s_i)_c`` with ``g_ic = (1-e) [c = y_i] + (e/K) w_c`` ("DynamicLSR").

    ``w_c`` normalises ``1 / (acc_c + 1e-5)``, ``acc_c`` the in-batch accuracy of class ``c`` (argmax of ``logits``).
    Paper mode weighs only the classes present among ``labels`` (suite choice); the released code gives absent
    classes accuracy 0, hence almost all the smoothing mass (D3). ``logits`` are already temperature-scaled.
    """
    if len(labels) == 0:
        return logits.sum() * 0.0
    n_classes = logits.shape[1]
    correct = (logits.detach().argmax(1) == labels).float()
    count = torch.bincount(labels, minlength=n_classes).float()
    accuracy = torch.bincount(labels, weights=correct, minlength=n_classes).float() / count.clamp(min=1)
    raw = 1.0 / (accuracy + 1e-5)
    if not released_code:
        raw = raw * (count > 0)
    target = (1 - smoothing) * F.one_hot(labels, n_classes).float() + (smoothing / n_classes) * raw / raw.sum()
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


def _samples(z: torch.Tensor, labels: torch.Tensor, released_code: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``z`` is (N, 2, D): images x views x features. The released code keeps the view axis (per-view means, D6);
    the paper reading treats every row as a sample: (2N, 1, D)."""
    if released_code:
        return z, labels
    return z.reshape(-1, 1, z.shape[-1]), labels.repeat_interleave(z.shape[1])


def within_between_ratio(z: torch.Tensor, labels: torch.Tensor, released_code: bool = False) -> torch.Tensor:
    """``W / (B + 1e-8)``, ``W = sum_c sum_{i in c} |z_i - mu_c|^2``, ``B = sum_c n_c |mu_c - mu|^2``.

    ``z``: (N, 2, D) normalised projections of labelled images, ``labels``: (N,). With fewer than two classes
    present ``B`` is 0 and the ratio undefined: it contributes zero (suite choice, both modes).
    """
    z, labels = _samples(z, labels, released_code)
    classes = labels.unique()
    if len(classes) < 2:
        return z.sum() * 0.0
    mean = z.mean(0)
    within = z.new_zeros(())
    between = z.new_zeros(())
    for c in classes:
        members = z[labels == c]
        centre = members.mean(0)
        within = within + ((members - centre) ** 2).sum()
        between = between + len(members) * ((centre - mean) ** 2).sum()
    return within / (between + 1e-8)


def max_min_spread(z: torch.Tensor, labels: torch.Tensor, released_code: bool = False) -> torch.Tensor:
    """Mean over present classes of ``max - min`` of the squared distances to the class centre.

    Paper reading: per-sample distances ``|z_i - mu_c|^2`` over all rows. Released code (D5): squared differences
    to the per-view centre summed over the view axis only, max and min over all (image, feature) entries.
    """
    if len(labels) == 0:
        return z.sum() * 0.0
    z, labels = _samples(z, labels, released_code)
    spreads = []
    for c in labels.unique():
        members = z[labels == c]
        squared = ((members - members.mean(0)) ** 2).sum(1)  # (n_c, D): summed over the view axis
        distances = squared if released_code else squared.sum(1)
        spreads.append(distances.max() - distances.min())
    return torch.stack(spreads).mean()

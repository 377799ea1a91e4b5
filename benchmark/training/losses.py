"""Losses of the GCD family (benchmark/README.md, "Training library"). Batches hold 2B rows: view 1 of every image,
then view 2."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def info_nce(z: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """SimCLR InfoNCE over all 2B rows: the other view is the positive, every other row a negative."""
    z = F.normalize(z, dim=1)
    return info_nce_of_similarity(z @ z.T, temperature)


def info_nce_of_similarity(similarity: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """InfoNCE on a (2B, 2B) similarity matrix of view-1 rows then view-2 rows (cosine, or a negative distance)."""
    n = similarity.shape[0] // 2
    logits = similarity / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=similarity.device), float("-inf"))
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(similarity.device)
    return F.cross_entropy(logits, positives)


def supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07,
           base_temperature: float = 0.07) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.) over labelled rows ``z`` (both views) with ``labels``.

    A batch without labelled rows contributes zero (with a graph, so ``backward`` still works).
    """
    if len(z) < 2:
        return z.sum() * 0.0
    z = F.normalize(z, dim=1)
    return supcon_of_similarity(z @ z.T, labels, temperature, base_temperature)


def supcon_of_similarity(similarity: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07,
                         base_temperature: float = 0.07) -> torch.Tensor:
    """``supcon`` on a similarity matrix of the labelled rows (cosine, or a negative distance)."""
    if len(similarity) < 2:
        return similarity.sum() * 0.0
    logits = similarity / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    self_mask = torch.eye(len(similarity), dtype=torch.bool, device=similarity.device)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    log_prob = logits - torch.logsumexp(logits.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True)
    mean_log_prob_pos = (log_prob * positive).sum(1) / positive.sum(1).clamp(min=1)
    return -(temperature / base_temperature) * mean_log_prob_pos.mean()


def labelled_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor,
                           temperature: float) -> torch.Tensor:
    """Cross-entropy of ``logits / temperature`` on the labelled rows; zero (with a graph) when there are none."""
    if not labelled.any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits[labelled] / temperature, labels[labelled])


def cross_view_distillation(logits: torch.Tensor, student_temperature: float,
                            teacher_temperature: float) -> torch.Tensor:
    """SimGCD self-distillation: each view's sharpened, detached prediction teaches the other view."""
    teacher = F.softmax(logits.detach() / teacher_temperature, dim=1)
    return cross_view_cross_entropy(logits, student_temperature, teacher)


def cross_view_cross_entropy(logits: torch.Tensor, student_temperature: float, targets: torch.Tensor) -> torch.Tensor:
    """Each view's target distribution (rows of ``targets``, both views) teaches the other view's student
    prediction ``softmax(logits / student_temperature)``; the mean of the two cross-entropies."""
    student = F.log_softmax(logits / student_temperature, dim=1).chunk(2)
    teacher = targets.chunk(2)
    return 0.5 * sum(-(teacher[t] * student[1 - t]).sum(1).mean() for t in (0, 1))


def mean_entropy_regulariser(logits: torch.Tensor, student_temperature: float) -> torch.Tensor:
    """log K - H(mean prediction) >= 0: minimising it spreads predictions over all K classes."""
    mean_prob = F.softmax(logits / student_temperature, dim=1).mean(0)
    return math.log(logits.shape[1]) + (mean_prob * torch.log(mean_prob.clamp_min(1e-12))).sum()


def teacher_temperature(epoch: int, warmup_epochs: int, start: float = 0.07, end: float = 0.04) -> float:
    """Linear from ``start`` to ``end`` over ``warmup_epochs`` evenly spaced values, then ``end`` (SimGCD)."""
    return linear_ramp(epoch, warmup_epochs, start, end)


def linear_ramp(epoch: int, ramp_epochs: int, start: float, end: float) -> float:
    """``np.linspace(start, end, ramp_epochs)[epoch]`` during the ramp, then ``end`` (epoch-counted schedules)."""
    if epoch >= ramp_epochs:
        return end
    return start if ramp_epochs == 1 else start + (end - start) * epoch / (ramp_epochs - 1)

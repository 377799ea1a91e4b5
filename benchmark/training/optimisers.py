"""Optimiser and learning-rate schedule of a training run, from its ``OptimConfig``.

SGD with momentum serves the GCD family, Adam the Open-Set-FER family (MSP, Open-Set-FER), AdamW MEK. The schedule is
a per-epoch cosine unless ``lr_decay`` asks for a per-epoch exponential decay (Open-Set-FER family: gamma 0.9) or
``lr_milestones`` for a step decay at given epochs (ORCA: x0.1 at 140 and 180 of 200); MEK uses the cosine.
"""
from __future__ import annotations

import torch

from benchmark.training.finetune import weight_decay_groups

OPTIMISERS = ("sgd", "adam", "adamw")


def build_optimiser(model: torch.nn.Module, optim) -> tuple[torch.optim.Optimizer, object]:
    """``optim`` is an ``OptimConfig``; weight decay follows its ``decay_1d`` rule for every optimiser."""
    groups = weight_decay_groups(model, optim.weight_decay, optim.decay_1d)
    if optim.optimizer == "sgd":
        optimizer = torch.optim.SGD(groups, lr=optim.lr, momentum=optim.momentum)
    elif optim.optimizer == "adam":
        optimizer = torch.optim.Adam(groups, lr=optim.lr)
    elif optim.optimizer == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=optim.lr)
    else:
        raise ValueError(f"optimizer {optim.optimizer!r} is not one of {', '.join(OPTIMISERS)}")
    if optim.lr_decay is not None:
        return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=optim.lr_decay)
    if optim.lr_milestones:
        return optimizer, torch.optim.lr_scheduler.MultiStepLR(optimizer, list(optim.lr_milestones),
                                                               gamma=optim.lr_milestone_gamma)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=optim.epochs,
                                                                 eta_min=optim.lr * optim.min_lr_ratio)

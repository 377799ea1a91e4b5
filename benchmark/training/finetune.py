"""Partial fine-tuning as in the papers: only the named last block trains; frozen layers build no graph."""
from __future__ import annotations

import torch


def freeze_all_but(model: torch.nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    """Freeze every parameter not starting with one of ``prefixes``; returns the trainable names."""
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(prefixes))
        if param.requires_grad:
            trainable.append(name)
    if not trainable:
        raise ValueError(f"no parameter starts with {prefixes}; nothing would train")
    return trainable


def train_mode(model: torch.nn.Module) -> None:
    """Train mode, except modules whose own parameters are all frozen (their BatchNorm statistics stay put)."""
    model.train()
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if own and not any(p.requires_grad for p in own):
            module.eval()


def weight_decay_groups(model: torch.nn.Module, weight_decay: float, decay_1d: bool) -> list[dict]:
    """Parameter groups of any optimiser: trainable parameters only; with ``decay_1d=False`` biases and other 1-D
    parameters get no weight decay."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if decay_1d or param.ndim > 1 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

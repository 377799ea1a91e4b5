"""GCD's labelled/unlabelled balanced sampler (benchmark/README.md, "Training library")."""
from __future__ import annotations

import torch


def balanced_epoch(n_labelled: int, n_unlabelled: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Batches of positions into [D_L; D_U] for one epoch.

    ``N_L + N_U`` draws with replacement, weight 1 per labelled item and ``N_L / N_U`` per unlabelled item (half of
    each batch labelled in expectation); the last incomplete batch is dropped.
    """
    if n_labelled == 0 or n_unlabelled == 0:
        raise ValueError("the balanced sampler needs both labelled and unlabelled items")
    weights = torch.cat([torch.ones(n_labelled, dtype=torch.float64),
                         torch.full((n_unlabelled,), n_labelled / n_unlabelled, dtype=torch.float64)])
    draws = torch.multinomial(weights, n_labelled + n_unlabelled, replacement=True, generator=generator)
    n_batches = len(draws) // batch_size
    return list(draws[:n_batches * batch_size].view(n_batches, batch_size))


def shuffled_epoch(n_items: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Batches of one shuffled pass over ``n_items`` (supervised training); the last incomplete batch is dropped."""
    n_batches = n_items // batch_size
    return list(torch.randperm(n_items, generator=generator)[:n_batches * batch_size].view(n_batches, batch_size))

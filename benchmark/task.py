"""What a method is given: images, the labelled subset with its labels, and unlabelled/test indices only.

Labels of unlabelled and test images are not reachable from here, so no method can read them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from benchmark.core.backbone import Backbone
from benchmark.features import cached_features


@dataclass(eq=False)
class GCDTask:
    """``images`` holds every row of the dataset; the index arrays select rows of it.

    ``labelled_y`` is re-indexed (known classes 0..n_known-1). ``n_classes`` is K when the protocol gives it,
    else None. ``backbone`` is shared between runs: a method that trains it must train a deep copy.
    ``work_dir`` is the run's own folder (checkpoints go there); ``cache_dir`` is shared.
    """

    protocol_id: str
    dataset_name: str
    data_key: str
    images: np.ndarray
    labelled_idx: np.ndarray
    labelled_y: np.ndarray
    unlabelled_idx: np.ndarray
    test_idx: np.ndarray
    n_known: int
    n_classes: int | None
    prediction_sets: tuple[str, ...]
    backbone: Backbone
    seed: int
    device: torch.device
    cache_dir: Path
    work_dir: Path
    known_class_names: tuple[str, ...] = field(default=())

    def indices(self, eval_set: str) -> np.ndarray:
        return {"unlabelled_train": self.unlabelled_idx, "test": self.test_idx}[eval_set]

    @cached_property
    def frozen_features(self) -> np.ndarray:
        """Features of every row from the frozen backbone (cached on disk across runs)."""
        return cached_features(self.backbone, _ImagesOnly(self.dataset_name, self.images, self.data_key),
                               self.cache_dir, self.device)


@dataclass(frozen=True)
class _ImagesOnly:
    name: str
    images: np.ndarray
    content_key: str

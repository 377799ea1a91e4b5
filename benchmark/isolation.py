"""Build a method's task from a split without any route to labels, and map its predictions back.

Every run sees its rows (labelled, unlabelled, test) in its own random order, drawn from a recorded seed, so no
position carries class information (datasets store e.g. basic before compound rows). Index arrays handed to the
method are sorted positions in that order; ``RowOrder.to_split_order`` puts predictions back in the split's order
for scoring.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
import numpy as np
import torch

from benchmark.core.backbone import Backbone
from benchmark.core.data import FERData
from benchmark.features import FEATURES, features_in
from benchmark.splits import Split
from benchmark.task import ExtraBackbones, GCDTask, RunImages

METHOD_CACHE = "method-cache"  # <cache_dir>/method-cache/<method>/: each method's own cache, no labels in it
VIEW_BANKS = "view-banks"  # <cache_dir>/view-banks/: view banks shared by all methods, no labels in it


@dataclass(frozen=True)
class RowOrder:
    """``rows[i]`` is the dataset row at task position ``i``; ``seed`` drew the order."""

    rows: np.ndarray
    seed: int

    @classmethod
    def shuffled(cls, split: Split, seed: int) -> "RowOrder":
        rows = np.concatenate([split.labelled_idx, split.unlabelled_idx, split.test_idx, split.validation_idx])
        return cls(rows[np.random.default_rng(seed).permutation(len(rows))], seed)

    def positions(self, dataset_rows: np.ndarray) -> np.ndarray:
        """Task positions of ``dataset_rows``, in the order given."""
        lookup = np.full(int(self.rows.max()) + 1, -1, dtype=np.int64)
        lookup[self.rows] = np.arange(len(self.rows))
        return lookup[np.asarray(dataset_rows, dtype=np.int64)]

    def to_split_order(self, values: np.ndarray | None, split_rows: np.ndarray) -> np.ndarray | None:
        """Values given per sorted task position of ``split_rows`` -> values in the order of ``split_rows``."""
        if values is None:
            return None
        positions = self.positions(split_rows)
        values = np.asarray(values)
        if len(values) != len(positions):
            return values  # a wrong length is reported by the scorer's length check
        return values[np.searchsorted(np.sort(positions), positions)]


def permutation_seed(training_seed: int) -> int:
    """The row-order seed of a run, derived from its training seed (recorded in the run record)."""
    return int(hashlib.sha256(f"rows|{training_seed}".encode()).hexdigest()[:8], 16)


def isolated_task(protocol_id: str, data: FERData, split: Split, backbone: Backbone, *, method: str, seed: int,
                  device: torch.device, cache_dir: Path, work_dir: Path,
                  extra_backbones: dict[str, Backbone] | None = None) -> tuple[GCDTask, RowOrder]:
    """The method's view of one run and the row order that maps its predictions back; ``extra_backbones``: the
    loaded backbones the method declared (``Method.extra_backbones``), None where the task offers none.

    Nothing the task holds, through attributes, closures or bound methods, reaches the runner's environment, the
    dataset (only its image array, whose file has no label file beside it) or the split."""
    order = RowOrder.shuffled(split, permutation_seed(seed))
    labelled = order.positions(split.labelled_idx)
    by_position = np.argsort(labelled)
    images = _ImagesOnly(data.name, data.images, data.content_key)
    features_dir = Path(cache_dir) / FEATURES
    rows = order.rows
    protocol = split.protocol
    method_cache = Path(cache_dir) / METHOD_CACHE / method
    method_cache.mkdir(parents=True, exist_ok=True)
    task = GCDTask(
        protocol_id=protocol_id, dataset_name=data.name, images=RunImages(data.images, rows),
        labelled_idx=labelled[by_position], labelled_y=split.labelled_y[by_position],
        unlabelled_idx=np.sort(order.positions(split.unlabelled_idx)), test_idx=np.sort(order.positions(split.test_idx)),
        n_known=protocol.n_known, n_classes=len(protocol.class_names) if protocol.k_given else None,
        prediction_sets=protocol.prediction_sets, backbone=backbone, seed=seed, device=device, cache_dir=method_cache,
        work_dir=work_dir, known_class_names=protocol.known,
        feature_source=lambda: np.array(features_in(backbone, images, features_dir, device)[rows]),
        view_bank_dir=Path(cache_dir) / VIEW_BANKS,
        backbone_by_name=None if extra_backbones is None else ExtraBackbones(extra_backbones),
        validation_idx=np.sort(order.positions(split.validation_idx)), face_source=data.face_source)
    return task, order


@dataclass(frozen=True)
class _ImagesOnly:
    """What ``features_in`` reads of a dataset: its name, images and content key (no labels)."""

    name: str
    images: np.ndarray
    content_key: str

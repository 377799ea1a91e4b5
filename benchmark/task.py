"""What a method is given: the run's images, the labelled subset with its labels, and unlabelled/test indices only.

Label isolation (``benchmark/isolation.py`` builds the task): ``images`` is a read-only view of the run's rows with
no file behind it, in a per-run random order; ``cache_dir`` is the method's own folder, holding no labels; frozen
features come from the shared cache through ``feature_source`` without exposing its path; other backbones come from
``ExtraBackbones``, which holds the loaded backbones alone. No attribute, closure or bound method of the task reaches
the runner's environment, a dataset or a split. What in-process code could still do, and why the suite accepts it,
is in benchmark/README.md ("Label isolation").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from benchmark.core.backbone import Backbone
from benchmark.core.data import FaceSource
from benchmark.core.errors import GFaceError


class RunImages:
    """uint8 (N, H, W, 3) images of one run's rows in the run's order; every read returns a plain in-memory array.

    ``images[i]`` is row ``rows[i]`` of the dataset; the dataset's array (possibly a memory map with a file name)
    stays behind a closure and is never returned.
    """

    __slots__ = ("_read", "shape", "dtype")

    def __init__(self, source: np.ndarray, rows: np.ndarray):
        rows = np.asarray(rows, dtype=np.int64)
        self._read = lambda index: np.array(source[rows[index]])  # np.array: a plain copy, never a memmap view
        self.shape = (len(rows),) + tuple(source.shape[1:])
        self.dtype = source.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        return self._read(index)


class ExtraBackbones:
    """``task.backbone_by_name(name)``: the registered backbones a method declared in ``extra_backbones()``, loaded
    by the runner (their weight hashes are part of the run's identity). It holds those backbones and nothing else:
    no environment, dataset, split or cache path."""

    __slots__ = ("_loaded",)

    def __init__(self, loaded: dict[str, Backbone]):
        self._loaded = dict(loaded)

    def __call__(self, name: str) -> Backbone:
        if name not in self._loaded:
            raise GFaceError(f"backbone {name!r} is not among the backbones this method declared in "
                             f"extra_backbones() ({', '.join(self._loaded) or 'none'}); declare it there, so that its "
                             f"weights enter the run's identity")
        return self._loaded[name]


@dataclass(eq=False)
class GCDTask:
    """``images`` holds every row of the run (labelled, unlabelled, test, validation) in a per-run random order; the
    index arrays are sorted positions into it. ``validation_idx`` (empty unless the protocol selects models on a
    held-out part of D_L) are labelled images whose labels the method never gets: it predicts them like the test
    split (inductively).

    ``labelled_y`` is re-indexed (known classes 0..n_known-1). ``n_classes`` is K when the protocol gives it,
    else None. ``backbone`` is shared between runs: a method that trains it must train a deep copy.
    ``work_dir`` is the run's own folder (checkpoints go there); ``cache_dir`` is the method's own cache folder.
    ``view_bank_dir`` holds the view banks every method shares (``benchmark/training/view_bank.py``; trunk outputs,
    no labels); None where the task offers none.
    """

    protocol_id: str
    dataset_name: str
    images: RunImages
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
    feature_source: Callable[[], np.ndarray]
    known_class_names: tuple[str, ...] = field(default=())
    view_bank_dir: Path | None = None
    backbone_by_name: ExtraBackbones | None = None  # the backbones the method declared in extra_backbones()
    validation_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # labels withheld
    face_source: FaceSource | None = None  # unlabelled faces the dataset can add (FERData.face_source)

    @property
    def inductive_sets(self) -> tuple[str, ...]:
        """The sets a method predicts without training on them: the test split (always), then the other predicted
        sets besides D_U (held-out validation images)."""
        return ("test",) + tuple(s for s in self.prediction_sets if s not in ("unlabelled_train", "test"))

    def indices(self, eval_set: str) -> np.ndarray:
        return {"unlabelled_train": self.unlabelled_idx, "test": self.test_idx,
                "validation": self.validation_idx}[eval_set]

    @cached_property
    def frozen_features(self) -> np.ndarray:
        """float32 (N, feature_dim) frozen-backbone features of ``images``, row for row (cached across runs)."""
        return self.feature_source()

"""The in-memory form every loader returns, and the contract a loader follows."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from benchmark.core.errors import GFaceError, MissingFileError

DATA_ROOT_ENV = "GFACE_DATA_ROOT"


@dataclass(frozen=True)
class FaceSource:
    """Expression-blind face images a dataset offers beside its own, with no labels (e.g. SynthFACE's pretraining
    distribution): ``render(n)`` gives uint8 (n, H, W, 3) at the dataset's image size, the same for the same ``n``;
    ``key`` names what they are, for caches."""

    key: str
    render: Callable[[int], np.ndarray]


@dataclass(frozen=True, eq=False)
class FERData:
    """A labelled face-expression dataset with its official train/test split.

    ``labels`` index ``class_names`` in the dataset's native order (0-based); ``class_names`` are canonical
    lower-case names ("surprise", "happily surprised"). ``images`` is uint8 (N, H, W, 3), possibly a memory map.
    ``sample_ids`` are unique and namespaced ("basic/train_00001"). ``content_key`` changes whenever the
    images, labels or ids would, and keys every downstream cache. ``provenance`` holds JSON-able facts a run
    record should keep (images skipped as missing or corrupt, crop mode, generator version). ``face_source``:
    unlabelled faces the dataset can add (None: it has none).
    """

    name: str
    class_names: tuple[str, ...]
    images: np.ndarray
    labels: np.ndarray
    is_train: np.ndarray
    sample_ids: tuple[str, ...]
    content_key: str
    provenance: dict = field(default_factory=dict)
    face_source: FaceSource | None = None

    def __post_init__(self) -> None:
        n = len(self.sample_ids)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise ValueError(f"{self.name}: images must be uint8 (N, H, W, 3), got {self.images.dtype} "
                             f"{self.images.shape}")
        if not (len(self.images) == len(self.labels) == len(self.is_train) == n):
            raise ValueError(f"{self.name}: images, labels, is_train and sample_ids differ in length")
        if len(set(self.sample_ids)) != n:
            raise ValueError(f"{self.name}: sample ids are not unique")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f"{self.name}: labels outside 0..{len(self.class_names) - 1}")

    def __len__(self) -> int:
        return len(self.sample_ids)

    def class_index(self, name: str) -> int:
        """Native index of a class given by name (case-insensitive); a clear error otherwise."""
        lowered = [c.lower() for c in self.class_names]
        key = name.strip().lower()
        if key not in lowered:
            raise GFaceError(f"dataset {self.name!r} has no class {name!r}; its classes are: "
                             f"{', '.join(self.class_names)}")
        return lowered.index(key)

    def histogram(self, mask: np.ndarray | None = None) -> dict[str, int]:
        labels = self.labels if mask is None else self.labels[mask]
        counts = np.bincount(labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts)}


class DatasetLoader(Protocol):
    """What ``DATASETS.register(name)`` expects: ``loader(data_root, cache_dir) -> FERData``.

    ``data_root`` is the folder given by ``--data-root`` or ``$GFACE_DATA_ROOT`` (None when neither is set);
    real datasets live in fixed sub-folders of it. ``cache_dir`` is where decoded arrays may be cached.
    """

    def __call__(self, data_root: Path | None, cache_dir: Path) -> FERData: ...


def data_folders(*subfolders: str):
    """Decorator: the sub-folders of the data root a loader reads (``--list datasets`` says which are present)."""
    def mark(loader):
        loader.data_folders = subfolders
        return loader
    return mark


def resolve_data_root(data_root: Path | None, subfolder: str, dataset: str, obtain_from: str) -> Path:
    """The folder of one real dataset, or one message saying where it was looked for and how to get it."""
    root = data_root or (Path(os.environ[DATA_ROOT_ENV]) if os.environ.get(DATA_ROOT_ENV) else None)
    if root is None:
        raise MissingFileError(
            f"dataset {dataset!r} needs a data root: pass --data-root DIR (or set ${DATA_ROOT_ENV}) where "
            f"DIR/{subfolder}/ holds the dataset. It is licence-gated and never downloaded by this suite; "
            f"obtain it from {obtain_from}")
    folder = Path(root).expanduser() / subfolder
    if not folder.is_dir():
        raise MissingFileError(f"dataset {dataset!r}: folder {folder} does not exist. Put the dataset there "
                               f"(obtain it from {obtain_from}) or point --data-root at its parent")
    return folder


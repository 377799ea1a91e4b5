"""Cross-dataset protocols: train on one dataset, test inductively on another (protocols/README.md, "Cross-dataset").

A protocol file declares the composed dataset under ``cross_dataset`` (``benchmark/protocol_registration.py``):

```yaml
dataset: rafdb-basic+ferplus-test     # the composed dataset's name: <train>+<test>-test
cross_dataset:
  train: rafdb-basic                  # D_L and D_U come from its official training images
  test: ferplus                       # the test set is its official test split
  classes: {surprise: surprise, fear: fear, ...}   # protocol class: the test dataset's class of the same expression
```

The composed dataset holds the training images of ``train`` (its class names and order) and the test images of
``test`` whose class is in the correspondence, relabelled by it; test images of other classes (FERPlus contempt) are
left out and counted. Test images are resized to the training images' size. Sample ids are namespaced by dataset.
The split, the methods and the scorer see an ordinary dataset, so nothing else changes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.core.cached_arrays import cached_array
from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.core.keys import content_key
from benchmark.core.registry import DATASETS
from datasets.image_cache import RESAMPLE

CROSS_VERSION = "cross-dataset-1"
TEST_SUFFIX = "-test"
_FIELDS = {"train", "test", "classes"}
_declared: dict[str, "CrossDataset"] = {}


def cross_dataset_name(train: str, test: str) -> str:
    return f"{train}+{test}{TEST_SUFFIX}"


def cross_dataset_parts(name: str) -> tuple[str, str] | None:
    """(train, test) of a composed dataset's name, else None."""
    if "+" not in name or not name.endswith(TEST_SUFFIX):
        return None
    train, test = name[:-len(TEST_SUFFIX)].split("+", 1)
    return (train, test) if train and test else None


@dataclass(frozen=True)
class CrossDataset:
    name: str
    train: str
    test: str
    classes: tuple[tuple[str, str], ...]  # (train class, test class)

    def load(self, data_root: Path | None, cache_dir: Path) -> FERData:
        train = DATASETS.get(self.train)(data_root, cache_dir)
        test = DATASETS.get(self.test)(data_root, cache_dir)
        test_to_train = {test.class_index(theirs): train.class_index(ours) for ours, theirs in self.classes}
        train_rows = np.flatnonzero(train.is_train)
        test_side = np.flatnonzero(~test.is_train)
        test_rows = test_side[np.isin(test.labels[test_side], list(test_to_train))]
        key = content_key(CROSS_VERSION, train.content_key, test.content_key, json.dumps(self.classes))
        size = train.images.shape[1:3]
        images = cached_array(Path(cache_dir) / "cross_datasets" / f"{key}.npy",
                              lambda: np.concatenate([train.images[train_rows], resized(test.images[test_rows], size)]),
                              self.name, dtype=np.uint8, tail=(*size, 3), length=len(train_rows) + len(test_rows),
                              mmap=True)
        labels = np.concatenate([train.labels[train_rows], [test_to_train[c] for c in test.labels[test_rows]]])
        left_out = {test.class_names[c]: int(n) for c, n in zip(*np.unique(test.labels[test_side], return_counts=True))
                    if c not in test_to_train}
        return FERData(self.name, train.class_names, images, labels.astype(np.int64),
                       np.arange(len(labels)) < len(train_rows),
                       tuple(f"{self.train}/{train.sample_ids[i]}" for i in train_rows)
                       + tuple(f"{self.test}/{test.sample_ids[i]}" for i in test_rows), key,
                       {"train": {"dataset": self.train, **train.provenance},
                        "test": {"dataset": self.test, **test.provenance, "left_out_classes": left_out},
                        "classes": dict(self.classes)})


def resized(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if images.shape[1:3] == tuple(size):
        return np.asarray(images)
    return np.stack([np.asarray(Image.fromarray(image).resize((size[1], size[0]), RESAMPLE)) for image in images]
                    ) if len(images) else np.zeros((0, *size, 3), dtype=np.uint8)


def parse_cross_dataset(name: str, raw: object, protocol_file: Path, class_names: tuple[str, ...]) -> CrossDataset:
    where = f"protocol file {protocol_file}, cross_dataset"
    if not isinstance(raw, dict) or set(raw) != _FIELDS:
        raise GFaceError(f"{where}: a mapping with exactly the fields {sorted(_FIELDS)} is needed, got "
                         f"{sorted(raw) if isinstance(raw, dict) else raw!r}")
    train, test, classes = raw["train"], raw["test"], raw["classes"]
    if not all(isinstance(v, str) and v for v in (train, test)) or train == test:
        raise GFaceError(f"{where}: train and test must name two different registered datasets, got {train!r}, "
                         f"{test!r}")
    if name != cross_dataset_name(train, test):
        raise GFaceError(f"{where}: the protocol's dataset must be named {cross_dataset_name(train, test)!r} "
                         f"(<train>+<test>{TEST_SUFFIX}), got {name!r}")
    if not isinstance(classes, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in
                                                classes.items()):
        raise GFaceError(f"{where}: classes must map each protocol class to a class name of {test}, e.g. "
                         f"{{surprise: surprise}}")
    if set(classes) != set(class_names) or len(set(classes.values())) != len(classes):
        raise GFaceError(f"{where}: classes must map every protocol class ({', '.join(class_names)}) and nothing "
                         f"else to distinct classes of {test}; got {sorted(classes)}")
    return CrossDataset(name, train, test, tuple((c, classes[c]) for c in class_names))


def register_cross_dataset(name: str, raw: object, protocol_file: Path, class_names: tuple[str, ...]) -> None:
    """Register the composed dataset ``name``; several protocol files may declare it, identically."""
    spec = parse_cross_dataset(name, raw, protocol_file, class_names)
    if name in _declared:
        if _declared[name] != spec:
            raise GFaceError(f"protocol file {protocol_file} declares dataset {name!r} differently from another "
                             f"protocol file; use one declaration")
        return
    if name in DATASETS:
        raise GFaceError(f"protocol file {protocol_file} declares dataset {name!r}, a name already registered")
    parts = [DATASETS.get(spec.train), DATASETS.get(spec.test)]  # an unknown name: one error naming it

    def loader(data_root: Path | None, cache_dir: Path) -> FERData:
        return spec.load(data_root, cache_dir)

    loader.__doc__ = f"{spec.train} training images, {spec.test} test images (cross-dataset, {protocol_file.name})"
    loader.data_folders = tuple(dict.fromkeys(f for part in parts for f in getattr(part, "data_folders", ())))
    DATASETS.add(name, loader)
    _declared[name] = spec

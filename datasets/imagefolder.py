"""The ``imagefolder`` layout of a declared dataset: ``root/<split>/<class>/<image>`` (e.g. train/happy/01.jpg)."""
from __future__ import annotations

from benchmark.core.errors import MissingFileError
from datasets.listed_image import Entry

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def list_imagefolder(spec) -> list[Entry]:
    """Every image of the train and test split folders of ``spec`` (a ``DatasetSpec``), in sorted order."""
    entries = []
    for split, is_train in ((spec.train, True), (spec.test, False)):
        folder = spec.root / split
        if not folder.is_dir():
            raise MissingFileError(f"dataset {spec.name!r}: folder {folder} does not exist; an imagefolder "
                                   f"dataset holds {spec.root}/<{spec.train}|{spec.test}>/<class>/<image>")
        for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            entries += [Entry(path, f"{split}/{class_dir.name}/{path.name}", class_dir.name, is_train)
                        for path in sorted(class_dir.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]
    return entries

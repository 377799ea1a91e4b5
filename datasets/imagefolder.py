"""The ``imagefolder`` layout of a declared dataset: ``root/<split>/<class>/<image>`` (e.g. train/happy/01.jpg);
images in folders below a class folder belong to it (``train/happy/person07/01.jpg``), so that a declared
attribute can read such a folder level (``datasets/declared_attributes.py``); hidden folders below it are skipped."""
from __future__ import annotations

from benchmark.core.errors import MissingFileError
from datasets.declared_attributes import attribute_values
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
            for path in sorted(class_dir.rglob("*")):
                inside = path.relative_to(class_dir).parts
                if path.suffix.lower() not in IMAGE_SUFFIXES or any(part.startswith(".") for part in inside) \
                        or not path.is_file():
                    continue
                relative = "/".join((split, class_dir.name) + inside)
                entries.append(Entry(path, relative, class_dir.name, is_train,
                                     attribute_values(spec.attributes, relative, None, spec.name, f"image {path}")))
    return entries

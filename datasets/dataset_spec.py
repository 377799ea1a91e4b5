"""Datasets declared in a protocol file (``dataset_spec:``), so own data needs no code.

```yaml
dataset: my-faces
dataset_spec:
  type: imagefolder        # root/<split>/<class>/*.jpg (datasets/imagefolder.py)
  root: my-faces           # relative paths start at the protocol file's folder
  classes: [happy, sad]    # optional: the native class order (default: sorted class names found)
  train: train             # optional: which split is training (default "train"), which is test (default "test")
  test: test
  image_size: 112          # optional: images are resized to this square size (default 112)
  attributes:              # optional: per-image attributes for the scorer side (datasets/declared_attributes.py)
    identity: {folder: 2}  # e.g. root/train/happy/<person>/01.jpg; type csv also takes {column: subject}
```

``type: csv`` reads a list file instead (``file: list.csv``, columns ``path,label,split``; image paths relative to
``root``, default the list's folder; ``datasets/csv_list.py``).

Declared attributes are registered as the dataset's attribute source (``ATTRIBUTES``): the diagnostics "What do
the clusters follow?" use them, and a subject-independent protocol splits by ``identity``. The loaded ``FERData``
holds none of them, so no method's task can.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.attributes import SampleAttributes
from benchmark.core.errors import GFaceError
from benchmark.core.registry import ATTRIBUTES, DATASETS
from benchmark.core.data import FERData
from datasets.cross_dataset import cross_dataset_parts
from datasets.csv_list import list_csv
from datasets.declared_attributes import DeclaredAttribute, parse_attributes
from datasets.image_cache import ImageSource, cached_images
from datasets.imagefolder import list_imagefolder
from datasets.listed_image import Entry

SPEC_VERSION = "dataset-spec-1"
DEFAULT_IMAGE_SIZE = 112
_FIELDS = {"imagefolder": {"type", "root", "classes", "train", "test", "image_size", "attributes"},
           "csv": {"type", "file", "root", "classes", "train", "test", "image_size", "attributes"}}
_declared: dict[str, "DatasetSpec"] = {}


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    type: str
    root: Path
    file: Path | None
    classes: tuple[str, ...]
    train: str
    test: str
    image_size: int
    attributes: tuple[DeclaredAttribute, ...] = ()

    def entries(self) -> list[Entry]:
        return list_imagefolder(self) if self.type == "imagefolder" else list_csv(self)

    def load(self, data_root: Path | None, cache_dir: Path) -> FERData:
        entries = self.entries()
        if not entries:
            raise GFaceError(f"dataset {self.name!r} ({self.type} at {self.file or self.root}) lists no images")
        classes = self.classes or tuple(sorted({e.label for e in entries}))
        unknown = sorted({e.label for e in entries} - set(classes))
        if unknown:
            raise GFaceError(f"dataset {self.name!r}: images of classes {unknown} are not in its classes "
                             f"{list(classes)}; add them to dataset_spec.classes")
        ids = [e.sample_id for e in entries]
        if len(set(ids)) != len(ids):
            raise GFaceError(f"dataset {self.name!r}: an image is listed twice ({_first_duplicate(ids)})")
        listing = "\n".join(f"{e.sample_id}\t{e.label}\t{int(e.is_train)}" for e in entries)
        decoded = cached_images([ImageSource(e.path, e.sample_id) for e in entries], size=self.image_size,
                                cache_dir=cache_dir, key_parts=(SPEC_VERSION, self.type, listing), desc=self.name)
        kept = [entries[i] for i in decoded.kept]
        return FERData(self.name, classes, np.asarray(decoded.images),
                       np.array([classes.index(e.label) for e in kept], dtype=np.int64),
                       np.array([e.is_train for e in kept]), tuple(e.sample_id for e in kept), decoded.key,
                       {"declared_in_protocol": True, "type": self.type, **decoded.provenance()})

    def sample_attributes(self, data_root: Path | None, cache_dir: Path, data: FERData) -> SampleAttributes:
        """The declared attributes of ``data``'s images, in its order (the attribute source of ``ATTRIBUTES``)."""
        by_id = {e.sample_id: dict(e.attributes) for e in self.entries()}
        missing = [i for i in data.sample_ids if i not in by_id]
        if missing:
            raise GFaceError(f"dataset {self.name!r}: image {missing[0]} of the loaded data is no longer listed; "
                             f"its listing changed since it was loaded, load it again")
        factors = {a.name: np.array([by_id[i][a.name] for i in data.sample_ids], dtype=str) for a in self.attributes}
        return SampleAttributes(tuple(data.sample_ids), factors)


def parse_spec(name: str, raw: object, protocol_file: Path) -> DatasetSpec:
    """Validate a ``dataset_spec`` mapping; relative paths start at the protocol file's folder."""
    where = f"protocol file {protocol_file}, dataset_spec"
    if not isinstance(raw, dict) or raw.get("type") not in _FIELDS:
        raise GFaceError(f"{where}: a mapping whose 'type' is one of {sorted(_FIELDS)} is needed")
    kind = raw["type"]
    unknown = set(raw) - _FIELDS[kind]
    required = {"root"} if kind == "imagefolder" else {"file"}
    if unknown or required - set(raw):
        raise GFaceError(f"{where}: type {kind} takes the fields {sorted(_FIELDS[kind])} and needs "
                         f"{sorted(required)}; got {sorted(raw)}")
    base = Path(protocol_file).parent

    def resolve(value) -> Path:
        path = Path(str(value)).expanduser()
        return path if path.is_absolute() else (base / path).resolve()

    file = resolve(raw["file"]) if kind == "csv" else None
    root = resolve(raw["root"]) if "root" in raw else file.parent
    classes = raw.get("classes") or []
    if not isinstance(classes, list):
        raise GFaceError(f"{where}: classes is {classes!r}; expected a list of names, e.g. [happy, sad]")
    size = raw.get("image_size", DEFAULT_IMAGE_SIZE)
    if not isinstance(size, int) or size < 8:
        raise GFaceError(f"{where}: image_size must be an integer of at least 8, got {size!r}")
    return DatasetSpec(name, kind, root, file, tuple(str(c) for c in classes),
                       str(raw.get("train", "train")), str(raw.get("test", "test")), size,
                       parse_attributes(raw.get("attributes"), kind, where))


def register_declared_dataset(name: str, raw: object, protocol_file: Path) -> None:
    """Register dataset ``name`` from its spec; several protocol files may declare it, with the same spec."""
    spec = parse_spec(name, raw, protocol_file)
    if cross_dataset_parts(name):
        raise GFaceError(f"protocol file {protocol_file} declares dataset {name!r}: names of the form "
                         f"<train>+<test>-test are kept for cross-dataset protocols; choose another dataset name")
    if name in _declared:
        if _declared[name] != spec:
            raise GFaceError(f"protocol file {protocol_file} declares dataset {name!r} differently from another "
                             f"protocol file; use one declaration (or another dataset name)")
        return
    if name in DATASETS:
        raise GFaceError(f"protocol file {protocol_file} declares dataset {name!r}, a name the suite already "
                         f"registers; choose another dataset name")
    DATASETS.add(name, spec.load)
    if spec.attributes:
        ATTRIBUTES.add(name, spec.sample_attributes)
    _declared[name] = spec


def _first_duplicate(ids: list[str]) -> str:
    seen: set[str] = set()
    return next(i for i in ids if i in seen or seen.add(i))

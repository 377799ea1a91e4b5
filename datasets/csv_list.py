"""The ``csv`` layout of a declared dataset: a list file with columns ``path,label,split`` (one image a row), and
any columns its declared attributes read (``datasets/declared_attributes.py``)."""
from __future__ import annotations

import csv
import io

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.text_files import read_text
from datasets.declared_attributes import attribute_values, check_columns
from datasets.listed_image import Entry

COLUMNS = ("path", "label", "split")


def list_csv(spec) -> list[Entry]:
    """The rows of ``spec.file`` (a ``DatasetSpec``) whose split is ``spec.train`` or ``spec.test``; image paths
    relative to ``spec.root``. Any other split value is an error."""
    if not spec.file.is_file():
        raise MissingFileError(f"dataset {spec.name!r}: list file {spec.file} not found")
    with io.StringIO(read_text(spec.file), newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise GFaceError(f"dataset {spec.name!r}: {spec.file} lacks the columns {sorted(missing)}; its header "
                             f"must name {', '.join(COLUMNS)}")
        check_columns(spec.attributes, list(reader.fieldnames), spec.name, spec.file)
        entries = []
        for line, row in enumerate(reader, start=2):
            if any(not (row[c] or "").strip() for c in COLUMNS):
                raise GFaceError(f"dataset {spec.name!r}: {spec.file} line {line} lacks a path, label or split "
                                 f"({', '.join(f'{c}={row[c]!r}' for c in COLUMNS)}); every row names all three")
            split = row["split"].strip()
            if split not in (spec.train, spec.test):
                raise GFaceError(f"dataset {spec.name!r}: {spec.file} line {line} has split {split!r}; expected "
                                 f"{spec.train!r} or {spec.test!r}")
            path = row["path"].strip()
            attributes = attribute_values(spec.attributes, path, row, spec.name, f"{spec.file} line {line}")
            entries.append(Entry(spec.root / path, path, row["label"].strip(), split == spec.train, attributes))
    return entries

"""Per-image attributes of a dataset declared in a protocol file (``dataset_spec.attributes``): the person
(``identity``) or any categorical attribute, read from a column of the CSV list or from a folder level of each
image's path, for the scorer side only (``benchmark/core/attributes.py``).

```yaml
  attributes:
    identity: {column: subject}   # type csv: a column of the list file
    session: {folder: -1}         # either type: a folder of the image's path below root (0 = first, -1 = last)
```

A folder level counts the folders of the image's path relative to ``root``: for ``imagefolder``
``<split>/<class>/...`` (level 2 is the first folder below the class folder), for ``csv`` the ``path`` column.
Every image needs a value: an unknown column, a level the path does not have or an empty value is an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from benchmark.core.errors import GFaceError

# factor names the diagnostics give the annotated labels and the scorer's own attributes (benchmark/cluster_factors.py)
RESERVED = ("expression", "true_expression", "intensity", "label_noise")


@dataclass(frozen=True)
class DeclaredAttribute:
    """One attribute: its factor name and where each image's value is read (a column, or a folder level)."""

    name: str
    column: str | None = None
    folder: int | None = None

    @property
    def source(self) -> str:
        return f"column {self.column!r}" if self.column is not None else f"folder level {self.folder}"


def parse_attributes(raw: object, kind: str, where: str) -> tuple[DeclaredAttribute, ...]:
    """Validate ``dataset_spec.attributes`` (``where`` names the spec in messages)."""
    if raw is None:
        return ()
    example = "e.g. {identity: {column: subject}}" if kind == "csv" else "e.g. {identity: {folder: 2}}"
    if not isinstance(raw, dict) or not raw:
        raise GFaceError(f"{where}: attributes is {raw!r}; expected a mapping of attribute names to their "
                         f"source, {example}")
    declared = []
    for name, source in raw.items():
        name = str(name)
        if not name.strip() or name in RESERVED:
            raise GFaceError(f"{where}: attribute name {name!r} is reserved or empty (reserved: "
                             f"{', '.join(RESERVED)}); choose another name")
        keys = set(source) if isinstance(source, dict) else set()
        if keys not in ({"column"}, {"folder"}):
            raise GFaceError(f"{where}: attribute {name!r} is {source!r}; give one source, {{column: NAME}} (type "
                             f"csv) or {{folder: LEVEL}} (an integer), {example}")
        if "column" in keys:
            if kind != "csv":
                raise GFaceError(f"{where}: attribute {name!r} reads a column, but type {kind} has no list file; "
                                 f"use {{folder: LEVEL}}, {example}")
            column = source["column"]
            if not isinstance(column, str) or not column.strip():
                raise GFaceError(f"{where}: attribute {name!r} reads column {column!r}; give a column name")
            declared.append(DeclaredAttribute(name, column=column.strip()))
        else:
            level = source["folder"]
            if not isinstance(level, int) or isinstance(level, bool):
                raise GFaceError(f"{where}: attribute {name!r} reads folder level {level!r}; give an integer (0 = "
                                 f"the first folder of the image's path below root, -1 = the folder holding it)")
            declared.append(DeclaredAttribute(name, folder=level))
    return tuple(declared)


def check_columns(attributes: tuple[DeclaredAttribute, ...], columns: list[str], dataset: str, file) -> None:
    """Refuse a declared column the list file lacks."""
    for attribute in attributes:
        if attribute.column is not None and attribute.column not in columns:
            raise GFaceError(f"dataset {dataset!r}: attribute {attribute.name!r} reads column {attribute.column!r}, "
                             f"which {file} lacks (its columns: {', '.join(columns)}); fix dataset_spec.attributes "
                             f"or the list file's header")


def attribute_values(attributes: tuple[DeclaredAttribute, ...], relative_path: str, row: dict | None,
                     dataset: str, where: str) -> tuple[tuple[str, str], ...]:
    """``((name, value), ...)`` of one image: ``relative_path`` below root, ``row`` its CSV row (None for a folder
    layout); ``where`` names the image or line in messages."""
    folders = PurePosixPath(relative_path.replace("\\", "/")).parts[:-1]
    values = []
    for attribute in attributes:
        if attribute.column is not None:
            value = (row[attribute.column] or "").strip()
        elif -len(folders) <= attribute.folder < len(folders):
            value = folders[attribute.folder].strip()
        else:
            raise GFaceError(f"dataset {dataset!r}: attribute {attribute.name!r} reads folder level "
                             f"{attribute.folder}, but {where} ({relative_path}) has {len(folders)} folder(s) "
                             f"({'/'.join(folders) or 'none'}; levels {-len(folders)}..{len(folders) - 1}); "
                             f"fix dataset_spec.attributes or the folders")
        if not value:
            raise GFaceError(f"dataset {dataset!r}: {where} has no value for attribute {attribute.name!r} "
                             f"({attribute.source}); every image needs one")
        values.append((attribute.name, value))
    return tuple(values)

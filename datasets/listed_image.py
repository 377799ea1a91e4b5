"""One image of a dataset declared in a protocol file, as its layout lists it (``datasets/dataset_spec.py``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One listed image: its file, a unique id, its class name, whether it is a training image and its declared
    attributes, ``((name, value), ...)`` (``datasets/declared_attributes.py``)."""

    path: Path
    sample_id: str
    label: str
    is_train: bool
    attributes: tuple[tuple[str, str], ...] = ()

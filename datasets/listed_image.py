"""One image of a dataset declared in a protocol file, as its layout lists it (``datasets/dataset_spec.py``)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One listed image: its file, a unique id, its class name and whether it is a training image."""

    path: Path
    sample_id: str
    label: str
    is_train: bool

"""A data root holding tiny RAF-DB (basic, compound), FERPlus and AffectNet folders in their official layouts
(``tests/fixtures_real.py``), large enough for every real protocol's split: each class has ``n_train`` training and
``n_test`` test images."""
from __future__ import annotations

from pathlib import Path

from tests.fixtures_real import (one_hot_votes, raf_entries, write_affectnet, write_fer2013, write_fer2013new,
                                 write_rafdb)

FACE_BOX = (16, 8, 64, 64)  # x, y, width, height inside AffectNet's 96×128 fixture images


def write_data_root(root: Path, n_train: int = 10, n_test: int = 2) -> Path:
    write_rafdb(root / "raf-basic", raf_entries(7, n_train, n_test), size=32)
    write_rafdb(root / "raf-compound", raf_entries(11, n_train, n_test), size=32, level_offset=5)
    usages = ["Training"] * (8 * n_train) + ["PrivateTest"] * (8 * n_test)
    rows = [(usage, f"fer{row:07d}.png", one_hot_votes(row % 8)) for row, usage in enumerate(usages)]
    write_fer2013(root / "ferplus", usages)
    write_fer2013new(root / "ferplus", rows)
    write_affectnet(root / "affectnet", {
        "training.csv": [(f"{i % 8}/t{i:04d}.jpg", FACE_BOX, i % 8) for i in range(8 * n_train)],
        "validation.csv": [(f"{i % 8}/v{i:04d}.jpg", FACE_BOX, i % 8) for i in range(8 * n_test)]})
    return root

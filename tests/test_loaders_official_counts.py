"""Recount the real label files against the published counts (datasets/README.md, "Labels").

Runs only where $GFACE_DATA_ROOT holds the dataset; reads label files and image listings, decodes no image.
"""
import os
from pathlib import Path

import numpy as np
import pytest

from datasets.affectnet import LIST_DIR, parse_list
from datasets.ferplus import SPLITS, majority_labels, parse_votes
from datasets.rafdb import BASIC_CLASSES, check_layout, read_subset

ROOT = Path(os.environ["GFACE_DATA_ROOT"]) if os.environ.get("GFACE_DATA_ROOT") else None


def _folder(name):
    if ROOT is None or not (ROOT / name).is_dir():
        pytest.skip(f"no real {name} under $GFACE_DATA_ROOT")
    return ROOT / name


def test_rafdb_basic_counts_and_image_paths():
    check_layout(_folder("raf-basic"))
    subset = read_subset(ROOT / "raf-basic", "basic", BASIC_CLASSES)
    train = np.bincount(subset.labels[subset.is_train], minlength=7).tolist()
    test = np.bincount(subset.labels[~subset.is_train], minlength=7).tolist()
    assert train == [1290, 281, 717, 4772, 1982, 705, 2524]
    assert test == [329, 74, 160, 1185, 478, 162, 680]
    assert [s.name for s in subset.sources if not s.path.is_file()] == []


def test_ferplus_majority_counts():
    folder = _folder("ferplus")
    usage, named, votes = parse_votes((folder / "fer2013new.csv").read_bytes(), folder / "fer2013new.csv")
    labels = majority_labels(votes)
    assert len(labels) == 35887
    expected = {"Training": [8740, 7287, 3149, 3014, 2100, 119, 532, 119, 3499, 2],
                "PublicTest": [1182, 865, 415, 351, 287, 24, 62, 13, 380, 0],
                "PrivateTest": [1090, 893, 396, 384, 273, 18, 83, 16, 420, 1]}
    for split, counts in expected.items():
        rows = named & (usage == SPLITS.index(split))
        assert np.bincount(labels[rows], minlength=10).tolist() == counts, split


def test_affectnet_validation_is_balanced():
    folder = _folder("affectnet")
    rows = parse_list((folder / LIST_DIR / "validation.csv").read_bytes(), folder / LIST_DIR / "validation.csv")
    codes = np.array([code for _, _, code in rows])
    assert np.bincount(codes[codes < 8], minlength=8).tolist() == [500] * 8

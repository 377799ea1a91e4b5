"""Per-image attributes of a declared dataset (``datasets/declared_attributes.py``): read from a folder level or a
CSV column in the data's order, every mistake one error, a split by person from a declared ``identity``, and no
route from a method's task to them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.core.attributes import IDENTITY
from benchmark.core.errors import GFaceError
from benchmark.core.registry import ATTRIBUTES, DATASETS, PROTOCOLS
from benchmark.isolation import isolated_task
from benchmark.plugin_discovery import load_plugins
from benchmark.splits import materialise
from datasets.dataset_spec import DatasetSpec, parse_spec, register_declared_dataset
from tests.test_label_isolation import reachable, routes_to_labels
from tests.toy_plugins import toy_backbone

load_plugins()
CLASSES = ("alpha", "beta")


def _images(root, people=6, per_person=3):
    """root/<split>/<class>/<person>/<n>.png: each person shows both classes, in train and in test."""
    for split in ("train", "test"):
        for c, name in enumerate(CLASSES):
            for person in range(people):
                for n in range(per_person if split == "train" else 1):
                    path = root / split / name / f"person{person}" / f"{n}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(np.full((8, 8, 3), 40 + 100 * c + person, np.uint8)).save(path)


def _spec(tmp_path, name, raw) -> DatasetSpec:
    return parse_spec(name, {"image_size": 8, **raw}, tmp_path / "protocol.yaml")


def test_a_folder_level_gives_each_image_its_value_in_the_data_order(tmp_path):
    _images(tmp_path / "faces")
    spec = _spec(tmp_path, "folder-people", {"type": "imagefolder", "root": "faces",
                                             "attributes": {IDENTITY: {"folder": 2}, "split_folder": {"folder": 0},
                                                            "last": {"folder": -1}}})
    data = spec.load(None, tmp_path / "cache")
    known = spec.sample_attributes(None, tmp_path / "cache", data)
    known.check(data)
    expected = [sample_id.split("/")[2] for sample_id in data.sample_ids]  # train/alpha/person3/0.png
    assert known.factors[IDENTITY].tolist() == expected == known.factors["last"].tolist()
    assert set(known.factors["split_folder"]) == {"train", "test"} and len(set(expected)) == 6
    assert len(data) == 2 * 6 * 4  # the images below the class folders are listed


@pytest.mark.parametrize("attributes, message", [
    ({IDENTITY: {"folder": 3}}, "reads folder level 3, but image"),
    ({IDENTITY: {"folder": -4}}, "has 3 folder(s) (train/alpha/person0; levels -3..2)"),
    ({IDENTITY: {"column": "person"}}, "type imagefolder has no list file"),
    ({"expression": {"folder": 2}}, "'expression' is reserved"),
    ({IDENTITY: {"folder": "2"}}, "give an integer"),
    ({IDENTITY: {"folder": 2, "column": "x"}}, "give one source"),
    ([IDENTITY], "expected a mapping"),
])
def test_a_wrong_folder_declaration_is_one_error(tmp_path, attributes, message):
    _images(tmp_path / "faces", people=1, per_person=1)
    with pytest.raises(GFaceError) as caught:
        _spec(tmp_path, "bad", {"type": "imagefolder", "root": "faces", "attributes": attributes}).entries()
    assert message in str(caught.value)


def test_a_csv_value_that_is_missing_is_one_error(tmp_path):
    _images(tmp_path / "faces", people=1, per_person=1)
    (tmp_path / "list.csv").write_text("path,label,split,person\nfaces/train/alpha/person0/0.png,alpha,train,p0\n"
                                       "faces/test/alpha/person0/0.png,alpha,test, \n")
    spec = _spec(tmp_path, "gaps", {"type": "csv", "file": "list.csv", "attributes": {IDENTITY: {"column": "person"}}})
    with pytest.raises(GFaceError, match=r"list.csv line 3 has no value for attribute 'identity' \(column 'person'\)"):
        spec.entries()


@pytest.fixture
def declared(tmp_path):
    """A declared dataset with a folder-level identity, registered as the suite registers it."""
    _images(tmp_path / "faces", people=12, per_person=4)
    name = "declared-people"
    register_declared_dataset(name, {"type": "imagefolder", "root": "faces", "image_size": 8,
                                     "attributes": {IDENTITY: {"folder": 2}}}, tmp_path / "protocol.yaml")
    yield name
    from datasets import dataset_spec
    DATASETS._entries.pop(name), ATTRIBUTES._entries.pop(name), dataset_spec._declared.pop(name)


def test_a_declared_identity_splits_by_person_and_no_task_reaches_it(tmp_path, declared):
    data = DATASETS.get(declared)(None, tmp_path / "cache")
    known = ATTRIBUTES.get(declared)(None, tmp_path / "cache", data)
    protocol = dataclasses.replace(PROTOCOLS.get("toy-basic"), id="declared-si", dataset=declared, known=("alpha",),
                                   new=("beta",), subject_independent=True, split_sha256=())
    split = materialise(protocol, data, 0, known)
    people = [set(known.factors[IDENTITY][rows]) for rows in (split.labelled_idx, split.unlabelled_idx, split.test_idx)]
    assert all(people) and not people[0] & people[1] and not people[0] & people[2] and not people[1] & people[2]
    task, _ = isolated_task(protocol.id, data, split, toy_backbone(tmp_path / "cache"), method="probe", seed=5,
                            device=torch.device("cpu"), cache_dir=tmp_path / "cache", work_dir=tmp_path / "work")
    assert routes_to_labels(task, data, split, known) == []
    assert not any(isinstance(obj, str) and "person" in obj for _, obj in reachable(task))  # nor a sample id

"""RAF-DB basic and compound loaders on tiny fixtures in the official layout."""
import logging

import numpy as np
import pytest

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import DATASETS
from datasets.rafdb import BASIC_CLASSES, COMPOUND_CLASSES, load_rafdb_basic_from, load_rafdb_compound_from
from tests.fixtures_real import decoded_code, raf_entries, write_rafdb


def _assert_labels_match_pixels(data):
    """Every label is the code its own image encodes: no shift between images and labels."""
    assert [decoded_code(image) for image in data.images] == [int(label) + 1 for label in data.labels]


def test_class_names_follow_the_official_codes():
    assert BASIC_CLASSES == ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
    assert COMPOUND_CLASSES == ("happily surprised", "happily disgusted", "sadly fearful", "sadly angry",
                                "sadly surprised", "sadly disgusted", "fearfully angry", "fearfully surprised",
                                "angrily surprised", "angrily disgusted", "disgustedly surprised")


def test_basic_classes_counts_and_label_mapping(tmp_path):
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=2, n_test=1))
    data = load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache")
    assert data.name == "rafdb-basic" and data.class_names == BASIC_CLASSES
    assert data.class_names[0] == "surprise" and data.class_names[6] == "neutral"
    assert data.images.shape == (21, 100, 100, 3) and isinstance(data.images, np.memmap)
    assert data.histogram(data.is_train) == {name: 2 for name in BASIC_CLASSES}
    assert data.histogram(~data.is_train) == {name: 1 for name in BASIC_CLASSES}
    assert data.sample_ids[0] == "basic/train_00001" and data.labels[0] == 0
    assert data.sample_ids[-1] == "basic/test_0007" and data.labels[-1] == 6
    assert all(i.startswith("basic/train_") == t for i, t in zip(data.sample_ids, data.is_train))
    _assert_labels_match_pixels(data)
    assert data.provenance == {"skipped_missing": 0, "skipped_corrupt": 0, "skipped_box_outside_image": 0,
                               "image_size": 100}


def test_missing_grayscale_and_corrupt_images(tmp_path, caplog):
    entries = raf_entries(7, n_train=2, n_test=1)
    write_rafdb(tmp_path / "raf-basic", entries, grayscale=["train_00002"], missing=["train_00003"],
                corrupt=["test_0004"])
    with caplog.at_level(logging.WARNING):
        data = load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache")
    assert len(data) == 19
    assert data.provenance["skipped_missing"] == 1 and data.provenance["skipped_corrupt"] == 1
    assert "basic/train_00003" not in data.sample_ids and "basic/test_0004" not in data.sample_ids
    gray = data.images[data.sample_ids.index("basic/train_00002")]
    assert np.array_equal(gray[..., 0], gray[..., 2])
    _assert_labels_match_pixels(data)
    assert "skipped 1 missing image(s): basic/Image/aligned/train_00003_aligned.jpg" in caplog.text


def test_resized_cache_and_keys(tmp_path):
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=1, n_test=1), size=120)
    native = load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache")
    small = load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache", image_size=64)
    assert native.images.shape[1:] == (100, 100, 3) and small.images.shape[1:] == (64, 64, 3)
    assert native.content_key != small.content_key
    _assert_labels_match_pixels(small)


@pytest.mark.parametrize("line, problem", [
    ("train_00099.jpg", "line 15"),
    ("train_00099.jpg 8", "line 15"),
    ("train_00099.jpg 0", "line 15"),
    ("train_0099.jpg 3", "line 15"),
    ("train_00099 3", "line 15"),
    ("train_00001.jpg 3", "line 15: train_00001.jpg is listed again \\(first on line 1\\)"),
])
def test_malformed_label_lines_are_errors(tmp_path, line, problem):
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=2, n_test=0), extra_lines=[line])
    with pytest.raises(GFaceError, match=f"list_patition_label.txt, {problem}"):
        load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache")


def test_blank_lines_and_crlf_are_accepted(tmp_path):
    folder = tmp_path / "raf-basic"
    write_rafdb(folder, raf_entries(7, n_train=1, n_test=0))
    label_file = folder / "EmoLabel" / "list_patition_label.txt"
    label_file.write_bytes(label_file.read_bytes().replace(b"\n", b"\r\n") + b"\r\n")
    assert len(load_rafdb_basic_from(folder, tmp_path / "cache")) == 7


def test_compound_file_in_place_of_basic_is_refused(tmp_path):
    write_rafdb(tmp_path / "raf-basic", raf_entries(11, n_train=1, n_test=0))
    with pytest.raises(GFaceError, match="line 8: .*code 1..7"):
        load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache")


def test_basic_file_in_place_of_compound_is_refused(tmp_path):
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=1, n_test=0))
    write_rafdb(tmp_path / "raf-compound", raf_entries(7, n_train=1, n_test=0))
    with pytest.raises(GFaceError, match=r"codes \[8, 9, 10, 11\] never occur"):
        load_rafdb_compound_from(tmp_path / "raf-basic", tmp_path / "raf-compound", tmp_path / "cache")


def test_missing_files_are_listed_with_the_source(tmp_path):
    (tmp_path / "raf-basic").mkdir()
    with pytest.raises(MissingFileError) as error:
        load_rafdb_basic_from(tmp_path / "raf-basic", tmp_path / "cache")
    message = str(error.value)
    assert "EmoLabel/list_patition_label.txt" in message and "Image/aligned" in message
    assert "http://www.whdeng.cn/RAF/model1.html#dataset" in message
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=1, n_test=0))
    (tmp_path / "raf-compound" / "Image" / "aligned").mkdir(parents=True)
    with pytest.raises(MissingFileError, match=r"missing \S*raf-compound/EmoLabel/list_patition_label.txt\. "):
        load_rafdb_compound_from(tmp_path / "raf-basic", tmp_path / "raf-compound", tmp_path / "cache")


def test_compound_merges_both_subsets_with_namespaced_ids(tmp_path):
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=1, n_test=1))
    write_rafdb(tmp_path / "raf-compound", raf_entries(11, n_train=1, n_test=1), level_offset=5)
    data = load_rafdb_compound_from(tmp_path / "raf-basic", tmp_path / "raf-compound", tmp_path / "cache")
    assert data.name == "rafdb-compound" and data.class_names == BASIC_CLASSES + COMPOUND_CLASSES
    assert len(data.class_names) == 18 and data.class_names[7] == "happily surprised"
    assert "basic/train_00001" in data.sample_ids and "compound/train_00001" in data.sample_ids
    compound = np.array([i.startswith("compound/") for i in data.sample_ids])
    assert sorted(set(data.labels[compound].tolist())) == list(range(7, 18))
    assert sorted(set(data.labels[~compound].tolist())) == list(range(7))
    assert data.labels[data.sample_ids.index("compound/train_00011")] == 17
    assert data.provenance["images_in_both_subsets"] == 0
    for image, label, is_compound in zip(data.images, data.labels, compound):
        expected_code = label - 7 + 1 if is_compound else label + 1
        assert abs(image.mean() - (20 * expected_code + 10 + 5 * is_compound)) < 3


def test_images_shared_by_both_subsets_are_counted(tmp_path):
    write_rafdb(tmp_path / "raf-basic", raf_entries(7, n_train=1, n_test=0))
    write_rafdb(tmp_path / "raf-compound", raf_entries(11, n_train=1, n_test=0))
    data = load_rafdb_compound_from(tmp_path / "raf-basic", tmp_path / "raf-compound", tmp_path / "cache")
    assert data.provenance["images_in_both_subsets"] == 7  # codes 1..7 draw the same grey in both fixtures


def test_registered_loaders_use_the_data_root(tmp_path, monkeypatch):
    write_rafdb(tmp_path / "root" / "raf-basic", raf_entries(7, n_train=1, n_test=0))
    write_rafdb(tmp_path / "root" / "raf-compound", raf_entries(11, n_train=1, n_test=0), level_offset=5)
    assert len(DATASETS.get("rafdb-basic")(tmp_path / "root", tmp_path / "cache")) == 7
    monkeypatch.setenv("GFACE_DATA_ROOT", str(tmp_path / "root"))
    assert len(DATASETS.get("rafdb-compound")(None, tmp_path / "cache")) == 18
    monkeypatch.delenv("GFACE_DATA_ROOT")
    with pytest.raises(MissingFileError, match="--data-root"):
        DATASETS.get("rafdb-basic")(None, tmp_path / "cache")

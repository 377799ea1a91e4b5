"""FERPlus loader: the official majority rule, row alignment with fer2013.csv, splits and clear errors."""
import numpy as np
import pytest

import datasets.ferplus as ferplus_module
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import DATASETS
from datasets.ferplus import CLASSES, load_ferplus_from, majority_labels
from tests.fixtures_real import one_hot_votes, row_pixels, write_fer2013, write_fer2013new


@pytest.mark.parametrize("votes, expected", [
    ([4, 0, 0, 1, 3, 2, 0, 0, 0, 0], 8),   # fer0000000.png: the 1 is removed, 4 is not > 4.5 -> unknown
    ([9, 0, 0, 1, 0, 0, 0, 0, 0, 0], 0),   # fer0000004.png -> neutral
    ([0, 0, 6, 0, 0, 0, 4, 0, 0, 0], 2),   # fer0000009.png: 6 > 5 -> surprise
    ([5, 0, 5, 0, 0, 0, 0, 0, 0, 0], 8),   # fer0000100.png: tie -> unknown
    ([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], 8),   # every count is an outlier: no votes -> unknown
    ([0, 0, 0, 0, 0, 0, 0, 2, 0, 8], 9),   # not-a-face majority
    ([1, 0, 0, 0, 0, 0, 0, 3, 0, 0], 7),   # contempt after the outlier is removed
])
def test_majority_rule(votes, expected):
    assert majority_labels(np.array([votes])).tolist() == [expected]


def _rows():
    """(usage, name, votes) rows: one per class and split, the official corner cases, a repeated name."""
    rows = [("Training", "fer0000000.png", [4, 0, 0, 1, 3, 2, 0, 0, 0, 0]),
            ("Training", "fer0000001.png", [5, 0, 5, 0, 0, 0, 0, 0, 0, 0]),
            ("Training", "", one_hot_votes(9)),
            ("Training", "fer0000002.png", one_hot_votes(9)),
            ("PrivateTest", "fer0000003.png", one_hot_votes(8))]
    for usage in ("Training", "PublicTest", "PrivateTest"):
        rows += [(usage, f"fer{len(rows) + c:07d}.png", one_hot_votes(c)) for c in range(8)]
    rows += [("Training", "fer0000005.png", [0, 7, 0, 0, 0, 0, 0, 0, 1, 2])]  # repeats row 5's name
    return rows


def _write(folder, rows=None, **fer2013):
    rows = rows or _rows()
    write_fer2013new(folder, rows)
    write_fer2013(folder, [usage for usage, _, _ in rows], **fer2013)
    return rows


def _expected_label(rows, index):
    return int(majority_labels(np.array([rows[index][2]]))[0])


def test_classes_splits_ids_and_pixels(tmp_path):
    rows = _write(tmp_path / "ferplus")
    data = load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache")
    assert data.class_names == CLASSES and data.class_names[7] == "contempt" and data.class_names[2] == "surprise"
    assert data.images.shape == (17, 48, 48, 3)
    assert data.histogram(data.is_train) == {**{name: 1 for name in CLASSES}, "happiness": 2}
    assert data.histogram(~data.is_train) == {name: 1 for name in CLASSES}
    assert data.sample_ids[0] == "train/r00005" and data.sample_ids[-1] == "train/r00029"
    for sample_id, image, label, is_train in zip(data.sample_ids, data.images, data.labels, data.is_train):
        split, row = sample_id.split("/r")
        assert rows[int(row)][0] == ("Training" if is_train else "PrivateTest") and split == ("train" if is_train
                                                                                                else "test")
        assert label == _expected_label(rows, int(row))
        assert np.array_equal(image[..., 0].reshape(-1), row_pixels(int(row)))
        assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])
    assert data.provenance == {"image_size": 48, "validation_rows_excluded": 8, "dropped_unnamed": 1,
                               "dropped_unknown": 3, "dropped_not_face": 1}


def test_emotion_column_is_never_used(tmp_path):
    rows = _rows()
    _write(tmp_path / "a", rows)
    _write(tmp_path / "b", rows, emotions=[(i * 5) % 7 for i in range(len(rows))])
    a = load_ferplus_from(tmp_path / "a", tmp_path / "cache")
    b = load_ferplus_from(tmp_path / "b", tmp_path / "cache")
    assert np.array_equal(a.labels, b.labels) and a.sample_ids == b.sample_ids


def test_seven_class_variant_drops_contempt(tmp_path):
    _write(tmp_path / "ferplus")
    eight = load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache")
    seven = load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache", with_contempt=False)
    assert seven.name == "ferplus7" and seven.class_names == CLASSES[:7]
    assert len(seven) == len(eight) - 2 and seven.labels.max() == 6
    assert seven.provenance["dropped_contempt"] == 2
    assert seven.content_key != eight.content_key
    assert load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache", image_size=64).content_key != eight.content_key


def test_resized_images_keep_three_channels(tmp_path):
    _write(tmp_path / "ferplus")
    data = load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache", image_size=64)
    assert data.images.shape == (17, 64, 64, 3)


def test_second_load_reads_the_cache_only(tmp_path, monkeypatch):
    _write(tmp_path / "ferplus")
    first = load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache")
    monkeypatch.setattr(ferplus_module, "_parse_pixels", lambda *a: pytest.fail("pixels parsed again"))
    second = load_ferplus_from(tmp_path / "ferplus", tmp_path / "cache")
    assert isinstance(second.images, np.memmap) and np.array_equal(np.asarray(first.images), second.images)


def test_row_count_mismatch_is_an_error(tmp_path):
    rows = _rows()
    write_fer2013new(tmp_path, rows)
    write_fer2013(tmp_path, [usage for usage, _, _ in rows][:-1])
    with pytest.raises(GFaceError, match="has 29 data rows but fer2013new.csv has 30"):
        load_ferplus_from(tmp_path, tmp_path / "cache")


def test_usage_mismatch_is_an_error(tmp_path):
    rows = _rows()
    write_fer2013new(tmp_path, rows)
    usages = [usage for usage, _, _ in rows]
    usages[3] = "PublicTest"
    write_fer2013(tmp_path, usages)
    with pytest.raises(GFaceError, match="line 5: data row 3 has usage 'PublicTest' but fer2013new.csv says "
                                         "'Training'"):
        load_ferplus_from(tmp_path, tmp_path / "cache")


@pytest.mark.parametrize("line", ["Training,fer0009999.png,1,2,3", "Training,fer0009999.png,1,2,3,4,5,6,7,8,9,x",
                                  "Train,fer0009999.png,10,0,0,0,0,0,0,0,0,0",
                                  "Training,fer0009999.png,-1,0,0,0,0,0,0,0,0,11"])
def test_malformed_vote_line_is_an_error(tmp_path, line):
    rows = _rows()
    write_fer2013new(tmp_path, rows, extra_lines=[line])
    write_fer2013(tmp_path, [usage for usage, _, _ in rows])
    with pytest.raises(GFaceError, match="fer2013new.csv, line 32"):
        load_ferplus_from(tmp_path, tmp_path / "cache")


@pytest.mark.parametrize("pixels", ["1 2 3", " ".join(["300"] * 2304), " ".join(["a"] * 2304)])
def test_malformed_pixels_are_an_error(tmp_path, pixels):
    _write(tmp_path, pixel_override={5: pixels})
    with pytest.raises(GFaceError, match="fer2013.csv, line 7: 'pixels' must hold 2304 integers"):
        load_ferplus_from(tmp_path, tmp_path / "cache")
    assert list((tmp_path / "cache" / "images").iterdir()) == []


def test_missing_files_and_registered_names(tmp_path):
    write_fer2013new(tmp_path / "root" / "ferplus", _rows())
    with pytest.raises(MissingFileError, match="fer2013.csv.*microsoft/FERPlus.*Kaggle"):
        DATASETS.get("ferplus")(tmp_path / "root", tmp_path / "cache")
    _write(tmp_path / "root" / "ferplus")
    assert len(DATASETS.get("ferplus")(tmp_path / "root", tmp_path / "cache")) == 17
    assert len(DATASETS.get("ferplus7")(tmp_path / "root", tmp_path / "cache")) == 15

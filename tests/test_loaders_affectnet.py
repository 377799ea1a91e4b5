"""AffectNet loader: header detection, 7/8-class filtering, face-box crop or pre-cropped images, clear errors."""
import logging

import numpy as np
import pytest

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import DATASETS
from datasets.affectnet import CLASSES, load_affectnet_from
from tests.fixtures_real import decoded_code, write_affectnet

BOXES = [(16, 8, 48, 48), (40, 32, 64, 56), (0, 0, 32, 32)]


def _lists(codes_train=range(11), codes_val=range(8)):
    """Every code 0..10 in training (8..10 must never be kept), 0..7 in validation; boxes on the JPEG grid."""
    train = [(f"{c}/t{c}.jpg", BOXES[c % 3], c) for c in codes_train]
    val = [(f"{c}/v{c}.jpg", BOXES[(c + 1) % 3], c) for c in codes_val]
    return {"training.csv": train, "validation.csv": val}


def _assert_crops_match_labels(data):
    assert [decoded_code(image) for image in data.images] == data.labels.tolist()
    assert all(np.ptp(np.asarray(image, dtype=int)) < 8 for image in data.images)  # only the face, no background


@pytest.mark.parametrize("header", [True, False])
def test_eight_classes_with_box_crop(tmp_path, header):
    write_affectnet(tmp_path, _lists(), header=header)
    data = load_affectnet_from(tmp_path, tmp_path / "cache")
    assert data.name == "affectnet8" and data.class_names == CLASSES and data.class_names[2] == "sadness"
    assert data.images.shape == (16, 112, 112, 3)
    assert data.histogram(data.is_train) == {name: 1 for name in CLASSES}
    assert data.histogram(~data.is_train) == {name: 1 for name in CLASSES}
    assert data.sample_ids[0] == "train/0/t0.jpg" and data.sample_ids[-1] == "test/7/v7.jpg"
    assert data.provenance == {"skipped_missing": 0, "skipped_corrupt": 0, "skipped_box_outside_image": 0, "image_size": 112, "crop": "box",
                               "crop_detected": True}
    _assert_crops_match_labels(data)


def test_seven_classes_and_keys(tmp_path):
    write_affectnet(tmp_path, _lists())
    eight = load_affectnet_from(tmp_path, tmp_path / "cache")
    seven = load_affectnet_from(tmp_path, tmp_path / "cache", n_classes=7)
    assert seven.name == "affectnet7" and seven.class_names == CLASSES[:7] and len(seven) == 14
    assert set(seven.labels.tolist()) == set(range(7))
    assert seven.content_key != eight.content_key
    assert load_affectnet_from(tmp_path, tmp_path / "cache", image_size=64).content_key != eight.content_key
    _assert_crops_match_labels(seven)


def test_precropped_images_are_detected_and_read_as_they_are(tmp_path):
    write_affectnet(tmp_path, _lists(), precropped=True)
    data = load_affectnet_from(tmp_path, tmp_path / "cache", image_size=48)
    assert data.provenance["crop"] == "none" and data.provenance["crop_detected"] is True
    _assert_crops_match_labels(data)


def test_explicit_crop_mode_overrides_detection(tmp_path):
    write_affectnet(tmp_path, _lists(codes_train=range(8), codes_val=[]))
    data = load_affectnet_from(tmp_path, tmp_path / "cache", crop="none", image_size=32)
    assert data.provenance["crop"] == "none" and data.provenance["crop_detected"] is False
    assert all(image.max() >= 245 for image in data.images)  # the whole picture, background included


def test_mixed_full_and_precropped_images_are_refused(tmp_path):
    write_affectnet(tmp_path / "full", _lists(codes_train=range(4), codes_val=[]))
    write_affectnet(tmp_path / "crop", _lists(codes_train=range(4, 8), codes_val=[]), precropped=True)
    write_affectnet(tmp_path, _lists(codes_train=range(8), codes_val=[]))
    for c in range(4, 8):
        (tmp_path / "Manually_Annotated_Images" / f"{c}/t{c}.jpg").write_bytes(
            (tmp_path / "crop" / "Manually_Annotated_Images" / f"{c}/t{c}.jpg").read_bytes())
    with pytest.raises(GFaceError, match="mix full and pre-cropped images"):
        load_affectnet_from(tmp_path, tmp_path / "cache")


def test_missing_and_corrupt_images_are_counted(tmp_path, caplog):
    write_affectnet(tmp_path, _lists(), missing=["1/t1.jpg"], corrupt=["2/v2.jpg"])
    with caplog.at_level(logging.WARNING):
        data = load_affectnet_from(tmp_path, tmp_path / "cache")
    assert len(data) == 14 and data.provenance["skipped_missing"] == 1 and data.provenance["skipped_corrupt"] == 1
    assert "train/1/t1.jpg" not in data.sample_ids and "test/2/v2.jpg" not in data.sample_ids
    assert "skipped 1 corrupt image(s): Manually_Annotated_Images/2/v2.jpg" in caplog.text
    _assert_crops_match_labels(data)


@pytest.mark.parametrize("line", ["9/x.jpg,1,2,30,30,1.0,11,0,0", "9/x.jpg,1,2,30,30,1.0,-1,0,0",
                                  "9/x.jpg,1,2,30,30,1.0,happy,0,0", "9/x.jpg,1,2,0,30,1.0,3,0,0",
                                  "9/x.jpg,1,2,30", "0/t0.jpg,16,8,48,48,1.0,0,0,0"])
def test_malformed_rows_are_errors(tmp_path, line):
    write_affectnet(tmp_path, _lists(), extra_lines={"training.csv": [line]})
    with pytest.raises(GFaceError, match="training.csv, line 13"):
        load_affectnet_from(tmp_path, tmp_path / "cache")


def test_header_missing_a_column_is_an_error(tmp_path):
    write_affectnet(tmp_path, _lists())
    path = tmp_path / "Manually_Annotated_file_lists" / "validation.csv"
    path.write_text(path.read_text().replace("expression", "emotion", 1))
    with pytest.raises(GFaceError, match=r"validation.csv, line 1: header lacks \['expression'\]"):
        load_affectnet_from(tmp_path, tmp_path / "cache")


def test_missing_files_and_registered_names(tmp_path):
    (tmp_path / "root" / "affectnet").mkdir(parents=True)
    with pytest.raises(MissingFileError, match="training.csv.*validation.csv.*Manually_Annotated_Images.*"
                                               "mohammadmahoor.com/affectnet"):
        DATASETS.get("affectnet8")(tmp_path / "root", tmp_path / "cache")
    write_affectnet(tmp_path / "root" / "affectnet", _lists())
    assert len(DATASETS.get("affectnet8")(tmp_path / "root", tmp_path / "cache")) == 16
    assert len(DATASETS.get("affectnet7")(tmp_path / "root", tmp_path / "cache")) == 14

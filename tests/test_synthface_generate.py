"""SynthFACE generation: determinism, class histograms, RAF-DB file names, AU prototypes."""
from __future__ import annotations

import re

import numpy as np
import pytest

from benchmark.core.errors import GFaceError
from datasets.synthface.action_units import (AU_INDEX, BASIC_CLASSES, COMPOUND_CLASSES,
                                             COMPOUND_RECIPES, PROTOTYPES, prototype_matrix)
from datasets.synthface.generate import (COMPOUND_WEIGHTS, RAF_BASIC_TEST, RAF_BASIC_TRAIN, SynthConfig,
                                         class_counts, generate_subset)

TINY = SynthConfig(image_size=24, n_identities=5, basic_train=21, basic_test=7, compound_train=22,
                   compound_test=11, min_train_per_class=2)


def test_class_names_in_raf_db_order():
    assert BASIC_CLASSES == ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
    assert len(COMPOUND_CLASSES) == 11 and COMPOUND_CLASSES[0] == "happily surprised"
    assert COMPOUND_CLASSES[-1] == "disgustedly surprised"
    assert set(PROTOTYPES) == set(BASIC_CLASSES + COMPOUND_CLASSES)


STEMS = {"happiness": "happ", "surprise": "surpris", "sadness": "sad", "fear": "fear", "disgust": "disgust",
         "anger": "ang"}


def test_compounds_lie_near_both_components():
    assert set(COMPOUND_RECIPES) == set(COMPOUND_CLASSES)
    emotions = BASIC_CLASSES[:6]
    basic = prototype_matrix(emotions)
    for name, (first, second, _, _) in COMPOUND_RECIPES.items():
        assert STEMS[first] in name and STEMS[second] in name
        distance = np.linalg.norm(basic - prototype_matrix((name,))[0], axis=1)
        nearest = {emotions[i] for i in np.argsort(distance)[:3]}
        assert {first, second} <= nearest, f"{name}: nearest basic prototypes are {nearest}"
    rows = prototype_matrix(BASIC_CLASSES + COMPOUND_CLASSES)
    assert len({r.tobytes() for r in rows}) == 18  # all prototypes distinct
    assert rows[BASIC_CLASSES.index("neutral")].sum() == 0
    assert rows[BASIC_CLASSES.index("happiness"), AU_INDEX[12]] == 1.0


def test_default_histograms_follow_raf_db_proportions():
    config = SynthConfig()
    train = class_counts(config.basic_train, RAF_BASIC_TRAIN, config.min_train_per_class)
    assert train.sum() == 3000 and train.min() >= 40
    expected = np.array(RAF_BASIC_TRAIN) / sum(RAF_BASIC_TRAIN) * 3000
    assert np.abs(train - expected).max() <= 1
    assert train.argmax() == BASIC_CLASSES.index("happiness") and train.argmin() == BASIC_CLASSES.index("fear")
    test = class_counts(config.basic_test, RAF_BASIC_TEST, 0)
    assert test.sum() == 750 and np.abs(test - np.array(RAF_BASIC_TEST) / 3068 * 750).max() <= 1
    compound = class_counts(config.compound_train, COMPOUND_WEIGHTS, config.min_train_per_class)
    assert compound.sum() == 1700 and compound.min() == 40  # the smallest class is raised to the floor


def test_class_counts_floor_and_impossible_request():
    counts = class_counts(100, (90, 5, 5), 20)
    assert counts.tolist() == [60, 20, 20]
    with pytest.raises(GFaceError, match="min_train_per_class"):
        class_counts(10, (1, 1, 1), 4)


def test_subset_histogram_ids_and_determinism():
    a = generate_subset("basic", TINY, seed=3, progress=False)
    b = generate_subset("basic", TINY, seed=3, progress=False)
    c = generate_subset("basic", TINY, seed=4, progress=False)
    assert a.images.shape == (28, 24, 24, 3) and a.images.dtype == np.uint8
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)
    train_hist = np.bincount(a.labels[a.is_train], minlength=7)
    assert train_hist.tolist() == class_counts(21, RAF_BASIC_TRAIN, 2).tolist()
    assert np.bincount(a.labels[~a.is_train], minlength=7).tolist() == class_counts(7, RAF_BASIC_TEST, 0).tolist()
    assert len(set(a.file_stems)) == len(a.file_stems)
    assert all(re.fullmatch(r"train_\d{5}", s) for s in a.file_stems[:21])
    assert all(re.fullmatch(r"test_\d{4}", s) for s in a.file_stems[21:])
    assert a.file_stems[0] == "train_00001" and a.file_stems[21] == "test_0001"
    assert a.identities.max() < TINY.n_identities


def test_subsets_are_independent_streams():
    basic = generate_subset("basic", TINY, seed=3, progress=False)
    compound = generate_subset("compound", TINY, seed=3, progress=False)
    assert compound.class_names == COMPOUND_CLASSES and compound.labels.max() <= 10
    assert not np.array_equal(basic.images[:5], compound.images[:5])


def test_bad_config_is_a_user_error():
    with pytest.raises(GFaceError, match="image_size"):
        SynthConfig(image_size=4)

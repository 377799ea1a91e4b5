"""Open-set (leave-one-class-out) protocols, the Open-Set-FER pool and closed-set scoring (protocols/README.md,
"Open-set protocols"; benchmark/README.md, "Evaluation")."""
import dataclasses

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.core.registry import PROTOCOLS
from benchmark.core.scorer import closed_set_scores
from benchmark.method import Predictions
from benchmark.protocol import Protocol
from benchmark.scoring import score_predictions
from benchmark.splits import materialise
from datasets.synthface.action_units import BASIC_CLASSES
from tests.toy_plugins import toy_data

RAFDB_COUNTS = {"surprise": (1290, 329), "fear": (281, 74), "disgust": (717, 160), "happiness": (4772, 1185),
                "sadness": (1982, 478), "anger": (705, 162), "neutral": (2524, 680)}
# protocols/README.md, "Open-set protocols": closed train, closed pool (test), open pool (test + train of o)
RAFDB_POOLS = {"surprise": (10981, 2739, 1619), "fear": (11990, 2994, 355), "disgust": (11554, 2908, 877),
               "happiness": (7499, 1883, 5957), "sadness": (10289, 2590, 2460), "anger": (11566, 2906, 867),
               "neutral": (9747, 2388, 3204)}


def _rafdb_shaped_data() -> FERData:
    """RAF-DB basic's class counts (1-pixel images), in file order train then test."""
    train = np.repeat(np.arange(7), [n for n, _ in RAFDB_COUNTS.values()])
    test = np.repeat(np.arange(7), [n for _, n in RAFDB_COUNTS.values()])
    labels = np.r_[train, test]
    is_train = np.r_[np.ones(len(train), bool), np.zeros(len(test), bool)]
    ids = tuple(f"{'train' if t else 'test'}_{i:05d}" for i, t in enumerate(is_train))
    return FERData("rafdb-basic", BASIC_CLASSES, np.zeros((len(labels), 1, 1, 3), np.uint8), labels, is_train, ids,
                   "fake")


@pytest.mark.parametrize("open_class", sorted(RAFDB_POOLS))
def test_rafdb_leave_one_out_pool_sizes_and_reversible_reindexing(open_class):
    protocol, data = PROTOCOLS.get(f"rafdb-basic-open-{open_class}"), _rafdb_shaped_data()
    split = materialise(protocol, data, 0)
    closed_train, closed_pool, open_pool = RAFDB_POOLS[open_class]
    assert len(split.labelled_idx) == closed_train and len(split.unlabelled_idx) == open_pool - RAFDB_COUNTS[
        open_class][1]
    pool_y = split.labels("osfer_pool")
    assert (pool_y < 6).sum() == closed_pool and (pool_y == 6).sum() == open_pool
    # 6-way order: native order without o (labels below o keep their index, above move down by one)
    assert protocol.known == tuple(c for c in BASIC_CLASSES if c != open_class) and protocol.open_class == open_class
    for rows, y in ((split.labelled_idx, split.labelled_y), (split.indices("osfer_pool"), pool_y)):
        assert [protocol.class_names[c] for c in y] == [BASIC_CLASSES[data.labels[r]] for r in rows]


def test_shipped_open_set_families_cover_each_class_once_and_stay_out_of_the_default_run():
    families = {"synthface-basic-open": "synthface-basic", "rafdb-basic-open": "rafdb-basic",
                "ferplus7-open": "ferplus7"}
    for prefix, dataset in families.items():
        members = [PROTOCOLS.get(name) for name in PROTOCOLS.names(f"{prefix}-*")]
        assert len(members) == 7 and {p.dataset for p in members} == {dataset}
        assert len({p.open_class for p in members}) == 7 and all(len(p.class_names) == 7 for p in members)
        assert all(p.kind == "open-set" and not p.default and p.labelled_fraction == 1.0 for p in members)
        assert all(p.eval_sets == ("osfer_pool",) and p.prediction_sets == ("unlabelled_train", "test")
                   for p in members)
    embedded = [PROTOCOLS.get(n) for n in PROTOCOLS.names("synthface-basic-open-*")]
    assert {(p.backbone, p.profile) for p in embedded} == {("synthface-cnn", "cpu")}


def test_open_set_kind_needs_one_new_class_and_the_pool(tmp_path):
    base = PROTOCOLS.get("toy-open-delta")
    with pytest.raises(GFaceError, match="exactly one new class"):
        dataclasses.replace(base, known=("alpha", "beta"), new=("gamma", "delta")).validate("test")
    with pytest.raises(GFaceError, match="exactly one new class"):
        dataclasses.replace(base, eval_sets=("test",)).validate("test")
    with pytest.raises(GFaceError, match="kind 'closed'"):
        dataclasses.replace(base, kind="closed").validate("test")
    path = tmp_path / "toy-x.yaml"
    path.write_text("id: toy-x\nversion: 1\nkind: open-set\ndataset: toy-blobs\nbackbone: toy-cnn\n"
                    "known: [alpha, beta, gamma]\nnew: [delta]\nlabelled_fraction: 1.0\nsplit_seeds: [0]\n"
                    "k_given: true\neval_sets: [unlabelled_train, osfer_pool]\nmodel_selection: last_epoch\n"
                    "scorer: hungarian_v2\n")
    assert Protocol.from_file(path).prediction_sets == ("unlabelled_train", "test")


def test_pool_is_scored_from_the_test_and_open_class_predictions():
    protocol, data = PROTOCOLS.get("toy-open-delta"), toy_data()
    split = materialise(protocol, data, 0)
    assert len(split.unlabelled_idx) == (data.is_train & (data.labels == 3)).sum()  # D_U = open-class train
    n_test = len(split.test_idx)
    clusters = {"test": split.test_y.copy(), "unlabelled_train": np.full(len(split.unlabelled_idx), 3)}
    knownness = {"test": (split.test_y < 3).astype(float), "unlabelled_train": np.zeros(len(split.unlabelled_idx))}
    results = score_predictions(Predictions(clusters, knownness, "truth", closed_set=True), split, 3)
    pool = results["osfer_pool"]
    assert set(results) == {"osfer_pool"} and pool["n"] == n_test + len(split.unlabelled_idx)
    assert pool["all"] == 1.0 and pool["auroc"] == 1.0 and pool["fpr_at_tpr95"] == 0.0
    assert pool["closed_accuracy"] == 1.0 and pool["closed_mca"] == 1.0


def test_closed_set_scores_use_no_matching_and_equal_balanced_accuracy():
    y_true = np.array([0, 0, 0, 1, 1, 2, 3, 3])  # class 3 is new (n_known = 3)
    y_pred = np.array([0, 1, 0, 1, 1, 0, 0, 2])
    scores = closed_set_scores(y_true, y_pred, 3)
    assert scores["closed_accuracy"] == pytest.approx(4 / 6)  # 0, 0, 1, 1 right among six known samples
    known = y_true < 3
    assert scores["closed_mca"] == pytest.approx(balanced_accuracy_score(y_true[known], y_pred[known]))
    # a perfect but permuted labelling: Hungarian matching would undo the permutation, closed-set scoring does not
    permuted = np.where(known, (y_true + 1) % 3, y_true)
    assert closed_set_scores(y_true, permuted, 3) == {"closed_accuracy": 0.0, "closed_mca": 0.0}

"""The scorer against hand-computed cases (benchmark/README.md, "Evaluation")."""
import math

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from benchmark.core.scorer import cluster_accuracy, contingency, hungarian_match, score

NAMES3 = ["a", "b", "c"]


def test_v1_and_v2_differ_on_a_constructed_case():
    # classes 0, 1 known, 2 new; the new class shares cluster 1 with class 1
    y_true = np.array([0, 0, 1, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 1, 1])
    s = score(y_true, y_pred, n_known=2, class_names=NAMES3)
    # one matching: 0->0, 1->1, 2->empty cluster 2: 5 of 7 right
    assert s.all == pytest.approx(5 / 7)
    assert s.old == pytest.approx(1.0)
    assert s.new == pytest.approx(0.0)
    # separate matchings: the new subset gets cluster 1 to itself
    assert s.old_v1 == pytest.approx(1.0)
    assert s.new_v1 == pytest.approx(1.0)
    assert s.all_v1 == pytest.approx(1.0)
    # class-balanced: recalls 1, 1, 0
    assert (s.all_balanced, s.old_balanced, s.new_balanced) == pytest.approx((2 / 3, 1.0, 0.0))
    assert s.per_class_recall == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert (s.n, s.n_old, s.n_new) == (7, 5, 2)


def test_surplus_and_non_contiguous_cluster_ids():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([5, 5, 9, 9, 9, 7])
    # best matching: 0->5 (2), 1->9 (2), 2->7 (1)
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    s = score(y_true, y_pred, n_known=1, class_names=NAMES3)
    assert s.all == pytest.approx(5 / 6)
    assert s.old == pytest.approx(1.0)
    assert s.new == pytest.approx(3 / 4)


def test_over_clustering_is_penalised():
    y_true = np.array([0, 0, 0, 0])
    y_pred = np.array([0, 1, 2, 3])  # each sample its own cluster
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(1 / 4)


def test_contingency_counts():
    w = contingency(np.array([0, 1, 1]), np.array([2, 2, 0]))
    assert w.shape == (3, 3)
    assert w[2, 0] == 1 and w[2, 1] == 1 and w[0, 1] == 1 and w.sum() == 3
    assert hungarian_match(w) == {0: 2, 1: 0, 2: 1}


def _noisy_predictions(rng, n=600, k=6, noise=0.3):
    y_true = rng.integers(0, k, n)
    y_pred = np.where(rng.random(n) < noise, rng.integers(0, k, n), y_true)
    return y_true, y_pred


def test_invariant_to_permuting_cluster_ids():
    rng = np.random.default_rng(0)
    y_true, y_pred = _noisy_predictions(rng)
    relabel = rng.permutation(40)[:6]  # also moves ids into a sparse, larger id space
    a = score(y_true, y_pred, 3, list("abcdef"))
    b = score(y_true, relabel[y_pred], 3, list("abcdef"))
    assert (a.all, a.old, a.new, a.all_v1, a.all_balanced) == pytest.approx(
        (b.all, b.old, b.new, b.all_v1, b.all_balanced))
    assert a.confusion == b.confusion


def test_old_new_partition_comes_from_ground_truth_not_predictions():
    # every known-class sample predicted into the cluster that matches a new class, and vice versa
    y_true = np.array([0, 0, 0, 1, 1])
    y_pred = np.array([1, 1, 1, 0, 0])
    s = score(y_true, y_pred, n_known=1, class_names=["known", "new"])
    assert (s.n_old, s.n_new) == (3, 2)
    assert s.all == s.old == s.new == pytest.approx(1.0)  # the matching is a pure relabelling


def test_balanced_accuracy_equals_sklearn_after_matching():
    rng = np.random.default_rng(1)
    y_true, y_pred = _noisy_predictions(rng, n=400, k=5, noise=0.5)
    s = score(y_true, y_pred, 2, list("abcde"))
    cluster_to_class = {p: t for t, p in hungarian_match(contingency(y_true, y_pred)).items()}
    mapped = np.array([cluster_to_class[p] for p in y_pred])
    assert s.all_balanced == pytest.approx(balanced_accuracy_score(y_true, mapped))


def test_confusion_rows_are_true_classes_columns_matched_classes():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 1, 1])
    s = score(y_true, y_pred, 2, NAMES3)
    assert s.confusion_columns == ["a", "b", "c", "unmatched"]
    assert s.confusion == [[2, 0, 0, 0], [0, 3, 0, 0], [0, 2, 0, 0]]


def test_empty_new_subset_is_nan_not_zero():
    s = score(np.array([0, 1, 1]), np.array([0, 1, 1]), n_known=2, class_names=NAMES3)
    assert math.isnan(s.new) and math.isnan(s.new_v1) and math.isnan(s.new_balanced)
    assert s.all == s.old == 1.0


def test_rejects_bad_ids():
    with pytest.raises(ValueError, match="negative"):
        score(np.array([0, 1]), np.array([0, -1]), 1, NAMES3)
    with pytest.raises(ValueError, match="integer"):
        score(np.array([0, 1]), np.array([0.0, 1.0]), 1, NAMES3)

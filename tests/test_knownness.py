"""AUROC and FPR@TPR95: hand-computed values, the three branches, the exact-0.95 tie, random cases."""
import math

import numpy as np
import pytest

from benchmark.core.knownness import auroc, fpr_at_tpr95, fpr_at_tpr_from_roc


def test_auroc_hand_computed_with_and_without_ties():
    known = np.array([1, 1, 0, 0], bool)
    # pairs (known, new): 0.9>0.6, 0.9>0.1, 0.4<0.6, 0.4>0.1 -> 3/4
    assert auroc(known, np.array([0.9, 0.4, 0.6, 0.1])) == pytest.approx(0.75)
    # 0.5 vs 0.5 is a tie worth one half -> (0.5 + 1 + 0 + 1) / 4
    assert auroc(known, np.array([0.5, 0.4, 0.5, 0.1])) == pytest.approx(0.625)


def test_reversed_score_gives_one_minus_auroc_and_is_never_flipped():
    known = np.array([1, 1, 1, 0, 0], bool)
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])  # known samples score *lower*: a legitimate AUROC of 0
    assert auroc(known, s) == pytest.approx(0.0)
    assert auroc(known, -s) == pytest.approx(1.0)


def test_one_sided_sets_give_nan():
    assert math.isnan(auroc(np.ones(3, bool), np.arange(3.0)))
    assert math.isnan(fpr_at_tpr95(np.zeros(3, bool), np.arange(3.0)))


def test_fpr_branches_on_given_roc_points():
    assert fpr_at_tpr_from_roc(np.array([0.0, 0.5]), np.array([0.0, 0.9]), 0.95) == 0.0  # never reaches 0.95
    assert fpr_at_tpr_from_roc(np.array([0.3, 0.1, 0.2]), np.array([0.96, 0.97, 1.0]), 0.95) == pytest.approx(0.1)
    assert fpr_at_tpr_from_roc(np.array([0.0, 0.2, 0.6]), np.array([0.0, 0.9, 1.0]), 0.95) == pytest.approx(0.4)


def test_exact_095_run_takes_the_last_point():
    # 20 known scores 0.05..1.0; the threshold 0.10 keeps 19/20 = 0.95 of them with new scores >= 0.10: 6/10.
    # Lowering the threshold past new samples at 0.08 and 0.06 keeps TPR at 0.95 (a horizontal run up to FPR 0.8);
    # NumPy's interpolation returns the last point of that run.
    known_scores = 0.05 * np.arange(1, 21)
    new_scores = np.array([0.02, 0.04, 0.06, 0.08, 0.5, 0.55, 0.6, 0.65, 0.7, 0.95])
    known = np.r_[np.ones(20, bool), np.zeros(10, bool)]
    assert fpr_at_tpr95(known, np.r_[known_scores, new_scores]) == pytest.approx(0.8)


def _brute_force(known, score):
    pos, neg = score[known], score[~known]
    diff = pos[:, None] - neg[None, :]
    auc = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    thresholds = np.r_[np.inf, np.sort(np.unique(score))[::-1]]
    tpr = np.array([(pos >= t).mean() for t in thresholds])
    fpr = np.array([(neg >= t).mean() for t in thresholds])
    return auc, float(np.interp(0.95, tpr, fpr))


@pytest.mark.parametrize("seed", range(5))
def test_random_cases_agree_with_a_brute_force_roc(seed):
    rng = np.random.default_rng(seed)
    known = np.r_[np.ones(37, bool), np.zeros(23, bool)]  # 37 known: TPR never hits 0.95 exactly
    score = np.round(rng.normal(known * 0.8, 1.0), 1)  # rounding makes ties
    auc, fpr = _brute_force(known, score)
    assert auroc(known, score) == pytest.approx(auc)
    assert fpr_at_tpr95(known, score) == pytest.approx(fpr)


def test_hand_computed_case_with_ties_and_both_score_directions():
    # 20 known (19 at 1.0, one at 0.5) and 4 new (1.0, 0.5, 0.5, 0.2); ROC points (0, 0), (1/4, 0.95), (3/4, 1), (1, 1)
    known = np.r_[np.ones(20, bool), np.zeros(4, bool)]
    score = np.r_[np.full(19, 1.0), 0.5, 1.0, 0.5, 0.5, 0.2]
    # pairs: 19 known at 1.0 tie one new and beat three (19 * 3.5); the one at 0.5 ties two, beats one -> 68.5 / 80
    assert auroc(known, score) == pytest.approx(68.5 / 80)
    assert fpr_at_tpr95(known, score) == pytest.approx(0.25)  # TPR 0.95 reached exactly at FPR 1/4
    # reversed scores: ROC (0, 0), (1/4, 0), (3/4, 0.05), (1, 1); FPR = 3/4 + (0.90 / 0.95) * 1/4, not flipped back
    assert auroc(known, -score) == pytest.approx(1 - 68.5 / 80)
    assert fpr_at_tpr95(known, -score) == pytest.approx(0.75 + 0.25 * 0.90 / 0.95)


@pytest.mark.parametrize("seed", range(5))
def test_random_cases_agree_with_scikit_learns_roc_curve(seed):
    from sklearn.metrics import auc, roc_curve
    rng = np.random.default_rng(100 + seed)
    known = np.r_[np.ones(40, bool), np.zeros(25, bool)]  # 40 known: TPR can hit 0.95 exactly
    score = np.round(rng.normal(known * 0.7, 1.0), 1)
    fpr, tpr, _ = roc_curve(known, score, drop_intermediate=False)
    assert auroc(known, score) == pytest.approx(auc(fpr, tpr))  # trapezoidal area of the full ROC curve
    assert fpr_at_tpr95(known, score) == pytest.approx(_brute_force(known, score)[1])
    assert fpr_at_tpr95(known, score) == pytest.approx(fpr_at_tpr_from_roc(fpr, tpr, 0.95))

"""Known-vs-new detection metrics: AUROC and FPR@TPR95, known = positive, higher score = more known.

Scores are never flipped: an AUROC below 0.5 is a legitimate result (benchmark/README.md, "Evaluation").
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _checked(is_known: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    is_known = np.asarray(is_known, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    if is_known.shape != score.shape or is_known.ndim != 1:
        raise ValueError(f"is_known and score must be 1-d of equal length, got {is_known.shape}, {score.shape}")
    if not np.isfinite(score).all():
        raise ValueError("knownness scores contain NaN or infinity")
    return is_known, score


def auroc(is_known: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one of known/new is present."""
    is_known, score = _checked(is_known, score)
    if is_known.all() or not is_known.any():
        return float("nan")
    return float(roc_auc_score(is_known, score))


def fpr_at_tpr95(is_known: np.ndarray, score: np.ndarray) -> float:
    """Fraction of new samples accepted as known at the threshold keeping 95 % of known ones (ood-metrics rule).

    ROC points from scikit-learn (collinear points dropped); 0 if no point reaches TPR 0.95; the smallest FPR if
    every point does; else NumPy's linear interpolation at TPR = 0.95 (the last point of a run at exactly 0.95).
    """
    is_known, score = _checked(is_known, score)
    if is_known.all() or not is_known.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(is_known, score)
    return fpr_at_tpr_from_roc(fpr, tpr, 0.95)


def fpr_at_tpr_from_roc(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The three-branch rule of ``fpr_at_tpr95`` applied to given ROC points (TPR non-decreasing)."""
    reached = tpr >= target
    if not reached.any():
        return 0.0
    if reached.all():
        return float(fpr[reached].min())
    return float(np.interp(target, tpr, fpr))

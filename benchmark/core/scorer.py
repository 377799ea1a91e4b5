"""The one scorer: Hungarian clustering accuracy (v2 primary, v1 legacy), class-balanced v2b, per-class recall,
and closed-set accuracy without matching for closed-set classifiers.

Labels are re-indexed so that known classes are ``0..n_known-1``; the Old/New partition always comes from the
ground truth (``y_true < n_known``), never from predictions or the labelled flag. See benchmark/README.md,
"Evaluation".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

SCORER_NAME = "hungarian_v2"  # what a protocol's ``scorer`` field names
SCORER_VERSION = f"{SCORER_NAME}/1"


def contingency(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """W[p, t] = #{i: y_pred_i = p, y_true_i = t}, square of side max(ids) + 1, built with one bincount."""
    y_true, y_pred = _as_ids(y_true, "y_true"), _as_ids(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}")
    side = int(max(y_true.max(initial=-1), y_pred.max(initial=-1))) + 1
    return np.bincount(y_pred * side + y_true, minlength=side * side).reshape(side, side)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[t, p] = #{i: y_true_i = t, y_pred_i = p} of a closed-set classifier (no matching), side ``n_classes``."""
    y_true, y_pred = _as_ids(y_true, "y_true"), _as_ids(y_pred, "y_pred")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def hungarian_match(w: np.ndarray) -> dict[int, int]:
    """Class -> cluster map maximising matched counts (``linear_sum_assignment`` on ``max(W) - W``)."""
    clusters, classes = linear_sum_assignment(w.max(initial=0) - w)
    return {int(t): int(p) for p, t in zip(clusters, classes)}


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Hungarian-matched accuracy of one subset; NaN when it is empty."""
    if len(y_true) == 0:
        return float("nan")
    w = contingency(y_true, y_pred)
    return sum(w[p, t] for t, p in hungarian_match(w).items()) / len(y_true)


@dataclass
class Score:
    """All accuracies as fractions in [0, 1] (NaN for an empty subset); rendered as % only in tables."""

    all: float
    old: float
    new: float
    all_v1: float
    old_v1: float
    new_v1: float
    all_balanced: float
    old_balanced: float
    new_balanced: float
    n: int
    n_old: int
    n_new: int
    per_class_recall: dict[str, float]
    confusion: list[list[int]]
    confusion_columns: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def score(y_true: np.ndarray, y_pred: np.ndarray, n_known: int, class_names: list[str]) -> Score:
    """Score cluster ids ``y_pred`` against re-indexed ``y_true`` (known classes first, ``n_known`` of them).

    One matching over all samples gives v2 All/Old/New and the per-class recalls behind v2b (MCA); v1 matches
    the Old and New subsets separately. ``confusion[t][j]`` counts samples of class t whose cluster is matched to
    class j; the last column counts samples in clusters matched to no class.
    """
    y_true, y_pred = _as_ids(y_true, "y_true"), _as_ids(y_pred, "y_pred")
    if len(y_true) and y_true.max() >= len(class_names):
        raise ValueError(f"y_true holds class {y_true.max()} but only {len(class_names)} class names were given")
    is_old = y_true < n_known
    w = contingency(y_true, y_pred)
    match = hungarian_match(w)
    present = np.unique(y_true)
    hits = {int(t): int(w[match[t], t]) for t in present}
    counts = {int(t): int((y_true == t).sum()) for t in present}
    old_classes = [t for t in hits if t < n_known]
    new_classes = [t for t in hits if t >= n_known]
    recall = {t: hits[t] / counts[t] for t in hits}
    n, n_old = len(y_true), int(is_old.sum())
    old_v1 = cluster_accuracy(y_true[is_old], y_pred[is_old])
    new_v1 = cluster_accuracy(y_true[~is_old], y_pred[~is_old])
    return Score(
        all=_ratio(sum(hits.values()), n),
        old=_ratio(sum(hits[t] for t in old_classes), n_old),
        new=_ratio(sum(hits[t] for t in new_classes), n - n_old),
        all_v1=_weighted(old_v1, new_v1, n_old, n - n_old),
        old_v1=old_v1,
        new_v1=new_v1,
        all_balanced=_mean([recall[t] for t in hits]),
        old_balanced=_mean([recall[t] for t in old_classes]),
        new_balanced=_mean([recall[t] for t in new_classes]),
        n=n,
        n_old=n_old,
        n_new=n - n_old,
        per_class_recall={class_names[t]: recall[t] for t in sorted(recall)},
        confusion=_matched_confusion(y_true, y_pred, match, len(class_names)).tolist(),
        confusion_columns=list(class_names) + ["unmatched"],
    )


def closed_set_scores(y_true: np.ndarray, y_pred: np.ndarray, n_known: int) -> dict[str, float]:
    """Closed-set accuracy without matching (benchmark/README.md, "Evaluation") over the known-class samples: an id is
    right when it equals the class index. ``closed_accuracy`` = top-1, ``closed_mca`` = mean recall over the known classes
    present (scikit-learn's ``balanced_accuracy_score`` when every prediction is a present class); NaN if none."""
    y_true, y_pred = _as_ids(y_true, "y_true"), _as_ids(y_pred, "y_pred")
    known = y_true < n_known
    hit = y_pred[known] == y_true[known]
    recalls = [hit[y_true[known] == t].mean() for t in np.unique(y_true[known])]
    return {"closed_accuracy": float(hit.mean()) if hit.size else float("nan"), "closed_mca": _mean(recalls)}


def _matched_confusion(y_true, y_pred, match: dict[int, int], n_classes: int) -> np.ndarray:
    cluster_to_class = {p: t for t, p in match.items() if t < n_classes}
    mapped = np.array([cluster_to_class.get(int(p), n_classes) for p in y_pred], dtype=np.int64)
    out = np.zeros((n_classes, n_classes + 1), dtype=np.int64)
    np.add.at(out, (y_true, mapped), 1)
    return out


def _as_ids(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-d integer array, got {values.dtype} {values.shape}")
    if len(values) and values.min() < 0:
        raise ValueError(f"{name} holds negative ids; ids must be non-negative integers")
    return values.astype(np.int64, copy=False)


def _ratio(num: float, den: int) -> float:
    return num / den if den else float("nan")


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _weighted(old: float, new: float, n_old: int, n_new: int) -> float:
    parts = [(v, k) for v, k in ((old, n_old), (new, n_new)) if k]
    return sum(v * k for v, k in parts) / sum(k for _, k in parts) if parts else float("nan")

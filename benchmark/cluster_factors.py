"""What a run's D_U clusters follow: agreement of the cluster ids with each per-image factor the scorer side knows
(the annotated expression, the expression before annotation noise, the person, the expression's intensity, other
categorical attributes), from saved predictions with no retraining. See benchmark/README.md, "What do the clusters
follow?".

Rows are ``{"factor", "metric", "value", "n"}`` (``n``: the images the value is computed over):
- every factor: ``nmi``, ``ami`` and ``ari`` (scikit-learn's normalized and adjusted-for-chance mutual information,
  arithmetic mean, and adjusted Rand index) of the cluster ids against the factor's values. NMI is not adjusted for
  chance: against a factor of many small groups (300 people) even random clusters score well above 0, so compare
  factors by AMI or ARI (0 = chance);
- ``expression`` and ``true_expression``: also ``accuracy``, the suite's Hungarian accuracy (v2, one matching)
  against the annotated and against the true classes;
- ``intensity``: NMI, AMI and ARI against the intensity bin (images with no bin left out), and ``accuracy_weak`` /
  ``accuracy_medium`` / ``accuracy_strong`` / ``accuracy_no_bin``: the share of a bin's images whose cluster the
  one matching against the annotated classes gives their annotated class (the matching of ``accuracy``, restricted
  to the bin; ``no_bin``: the faces with no intensity, which show no expression). The four, weighted by their ``n``,
  give ``accuracy``: where one class without a bin (neutral) takes most of the correct images, every bin can score
  far below it;
- ``label_noise`` (only where some D_U images carry a label other than their true class): ``share`` of such images,
  and over them ``follows_annotated`` / ``follows_true``: the share whose cluster that same matching gives their
  annotated, respectively true, class.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score

from benchmark.core.scorer import contingency, hungarian_match

EXPRESSION, TRUE_EXPRESSION, INTENSITY, LABEL_NOISE = "expression", "true_expression", "intensity", "label_noise"
# fixed thresholds on the largest expression AU intensity (0-1), near the tertiles of SynthFACE model 4
INTENSITY_BINS = (("weak", 0.0, 0.5), ("medium", 0.5, 0.75), ("strong", 0.75, np.inf))
NO_BIN = "no_bin"  # the faces with no intensity (no expression shown): ``accuracy_no_bin``


def intensity_bins(intensity: np.ndarray) -> np.ndarray:
    """Bin index per image (0 weak, 1 medium, 2 strong; -1 where the intensity is NaN): [0, 0.5), [0.5, 0.75),
    [0.75, ∞)."""
    intensity = np.asarray(intensity, float)
    bins = np.full(len(intensity), -1, np.int64)
    for i, (_, low, high) in enumerate(INTENSITY_BINS):
        bins[(intensity >= low) & (intensity < high)] = i
    return bins


def factor_rows(clusters: np.ndarray, labels: np.ndarray, factors: dict[str, np.ndarray] | None = None,
                true_labels: np.ndarray | None = None, intensity: np.ndarray | None = None) -> list[dict]:
    """The rows above for one run's D_U: cluster ids, annotated class ids, categorical ``factors`` (name -> value
    per image; "" = unknown, left out), class ids before annotation noise, intensities (NaN = none)."""
    clusters, labels = np.asarray(clusters, np.int64), np.asarray(labels, np.int64)
    rows = agreement(EXPRESSION, clusters, labels)
    matched = matched_class(clusters, labels)
    rows.append(_row(EXPRESSION, "accuracy", np.mean(matched == labels), len(labels)))
    if true_labels is not None:
        true_labels = np.asarray(true_labels, np.int64)
        rows += agreement(TRUE_EXPRESSION, clusters, true_labels)
        rows.append(_row(TRUE_EXPRESSION, "accuracy", np.mean(matched_class(clusters, true_labels) == true_labels),
                         len(labels)))
        noisy = labels != true_labels
        if noisy.any():
            rows += [_row(LABEL_NOISE, "share", noisy.mean(), len(labels)),
                     _row(LABEL_NOISE, "follows_annotated", np.mean(matched[noisy] == labels[noisy]), noisy.sum()),
                     _row(LABEL_NOISE, "follows_true", np.mean(matched[noisy] == true_labels[noisy]), noisy.sum())]
    for name, values in sorted((factors or {}).items()):
        values = np.asarray(values).astype(str)
        known = values != ""
        if known.any():
            rows += agreement(name, clusters[known], values[known])
    if intensity is not None:
        bins = intensity_bins(intensity)
        known = bins >= 0
        if known.any():
            rows += agreement(INTENSITY, clusters[known], bins[known])
        for i, name in [*enumerate(name for name, _, _ in INTENSITY_BINS), (-1, NO_BIN)]:
            inside = bins == i
            if inside.any():
                rows.append(_row(INTENSITY, f"accuracy_{name}", np.mean(matched[inside] == labels[inside]),
                                 inside.sum()))
    return rows


def agreement(factor: str, clusters: np.ndarray, values: np.ndarray) -> list[dict]:
    """NMI, AMI and ARI of cluster ids against one factor's values."""
    return [_row(factor, "nmi", normalized_mutual_info_score(values, clusters), len(values)),
            _row(factor, "ami", adjusted_mutual_info_score(values, clusters), len(values)),
            _row(factor, "ari", adjusted_rand_score(values, clusters), len(values))]


def matched_class(clusters: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per image, the class its cluster is matched to by the scorer's one Hungarian matching against ``labels``
    (-1 for a cluster matched to no class)."""
    side = int(max(clusters.max(initial=-1), labels.max(initial=-1))) + 1
    class_of_cluster = np.full(side, -1, np.int64)
    for t, p in hungarian_match(contingency(labels, clusters)).items():
        class_of_cluster[p] = t
    return class_of_cluster[clusters]


def _row(factor: str, metric: str, value: float, n: int) -> dict:
    return {"factor": factor, "metric": metric, "value": float(value), "n": int(n)}

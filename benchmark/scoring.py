"""A run's scoring: every evaluation set of the protocol scored from the method's predictions by the one scorer
(``benchmark/core/scorer.py``, ``benchmark/core/knownness.py``), and the collapse flag."""
from __future__ import annotations

import numpy as np

from benchmark.core.knownness import auroc, fpr_at_tpr95
from benchmark.core.scorer import closed_set_scores, score
from benchmark.method import Predictions
from benchmark.splits import Split

COLLAPSE_SHARE = 0.9  # one cluster holding this share of the scored set (or Old accuracy 0) flags a collapsed run


def collapse(clusters_per_set: dict[str, np.ndarray], results: dict, split: Split) -> dict:
    """Largest cluster's share of the protocol's scored set (its first ``eval_sets`` entry: D_U on GCD protocols,
    the Open-Set-FER pool on open-set ones) and whether the run collapsed (share >= 0.9, or Old accuracy 0 there);
    ``clusters_per_set`` in the split's row order."""
    scored = split.protocol.eval_sets[0]
    clusters = split.pooled(clusters_per_set, scored)
    if clusters is None or not len(clusters):
        return {"eval_set": scored, "largest_cluster_share": None, "collapsed": False}
    share = float(np.bincount(np.asarray(clusters, dtype=np.int64) - np.min(clusters)).max() / len(clusters))
    old = results.get(scored, {}).get("old")
    return {"eval_set": scored, "largest_cluster_share": round(share, 6),
            "collapsed": bool(share >= COLLAPSE_SHARE or (old is not None and old == 0.0))}


def score_predictions(predictions: Predictions, split: Split, n_known: int) -> dict:
    """Check the method's output against the split, then score every evaluation set it covers."""
    results = {}
    names = list(split.protocol.class_names)
    for eval_set in split.protocol.eval_sets:
        y_true = split.labels(eval_set)
        clusters = split.pooled(predictions.clusters, eval_set)
        if clusters is None or len(clusters) != len(y_true):
            raise ValueError(f"method returned {None if clusters is None else len(clusters)} predictions for "
                             f"{eval_set}, expected {len(y_true)}")
        entry = score(y_true, np.asarray(clusters).astype(np.int64), n_known, names).to_dict()
        if predictions.closed_set:
            entry.update(closed_set_scores(y_true, np.asarray(clusters).astype(np.int64), n_known))
            reference = split.pooled(predictions.reference_clusters, eval_set)
            if reference is not None:
                entry.update({f"{name}_reference": value for name, value in
                              closed_set_scores(y_true, np.asarray(reference).astype(np.int64), n_known).items()})
        for scores, suffix in ((predictions.knownness, ""), (predictions.reference_knownness, "_reference")):
            known_score = split.pooled(scores, eval_set)
            if known_score is not None:
                entry[f"auroc{suffix}"] = auroc(y_true < n_known, known_score)
                entry[f"fpr_at_tpr95{suffix}"] = fpr_at_tpr95(y_true < n_known, known_score)
        results[eval_set] = entry
    return results

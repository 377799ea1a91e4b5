"""The number of classes K: given by the protocol (``require_k``), or estimated as in GCD (``estimate_k``: Brent's
method over k, scored on D_L; methods/README.md, "GCD")."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from benchmark.clustering import KMeansConfig, kmeans
from benchmark.core.errors import GFaceError
from benchmark.core.scorer import cluster_accuracy
from benchmark.method import TaskShape
from benchmark.task import GCDTask


def require_k(task: GCDTask, method_name: str) -> int:
    """K = K_old + K_new, which this method needs given."""
    if task.n_classes is None:
        raise GFaceError(_k_missing(method_name, task.protocol_id))
    return task.n_classes


def require_k_given(shape: TaskShape, method_name: str) -> None:
    """``require_k`` before the sweep (``Method.check``)."""
    if shape.n_classes is None:
        raise GFaceError(_k_missing(method_name, shape.protocol_id))


def _k_missing(method_name: str, protocol_id: str) -> str:
    return (f"{method_name} needs the number of classes K, but protocol {protocol_id!r} does not give it "
            f"(k_given: false); use a protocol with k_given: true")


def estimate_k(features: np.ndarray, labelled_positions: np.ndarray, labelled_y: np.ndarray, k_min: int, k_max: int,
               n_init: int = 10, seed: int = 0) -> tuple[int, dict[int, float]]:
    """The k in [k_min, k_max] whose k-means clustering of *all* features best fits the labelled subset.

    Objective: Hungarian accuracy of the clusters of the labelled rows against their labels, maximised with bounded
    Brent minimisation of ``-acc(int(k))``, memoised per integer k and stopped once the bracket is narrower than 1.
    Returns the best k and every evaluated ``{k: accuracy}``.
    """
    k_max = min(k_max, len(features))
    scores: dict[int, float] = {}

    def negative_accuracy(k: float) -> float:
        k = int(k)
        if k not in scores:
            labels = kmeans(features, KMeansConfig(k, n_init=n_init, seed=seed)).labels
            scores[k] = cluster_accuracy(labelled_y, labels[labelled_positions])
        return -scores[k]

    minimize_scalar(negative_accuracy, bounds=(k_min, k_max), method="bounded", options={"xatol": 1.0})
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores

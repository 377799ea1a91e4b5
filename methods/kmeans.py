"""k-means on frozen backbone features, K given (GCD's baseline; methods/README.md)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.clustering import KMeansConfig, kmeans
from benchmark.features import l2_normalise, max_cosine
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least
from benchmark.number_of_classes import require_k, require_k_given
from benchmark.task import GCDTask


@dataclass
class KMeansParams:
    n_init: int = at_least(10, 1)
    max_iter: int = at_least(300, 1)
    tol: float = 1e-4
    seed: int = 0
    fit_on: str = "unlabelled"  # "unlabelled" (suite default) or "all" (labelled + unlabelled)


@METHODS.register("kmeans")
class KMeansBaseline(Method):
    """Plain k-means on L2-normalised frozen features; knownness = max cosine to labelled-class means."""

    Params = KMeansParams
    profiles = {"smoke": {"n_init": 2}}
    summary = "k-means: k-means++ with restarts on frozen backbone features"

    def check(self, shape: TaskShape) -> None:
        require_k_given(shape, "kmeans")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        if p.fit_on not in ("unlabelled", "all"):
            raise ValueError(f"kmeans.fit_on must be 'unlabelled' or 'all', got {p.fit_on!r}")
        feats = l2_normalise(task.frozen_features)
        config = KMeansConfig(require_k(task, "kmeans"), p.n_init, p.max_iter, p.tol, p.seed)
        fit_rows = task.unlabelled_idx if p.fit_on == "unlabelled" else np.concatenate(
            [task.labelled_idx, task.unlabelled_idx])
        result = kmeans(feats[fit_rows], config)
        class_means = np.stack([feats[task.labelled_idx[task.labelled_y == c]].mean(0) for c in range(task.n_known)])
        clusters, knownness = {}, {}
        for eval_set in task.prediction_sets:
            rows = task.indices(eval_set)
            clusters[eval_set] = (result.labels[-len(rows):] if eval_set == "unlabelled_train"  # fit rows end with D_U
                                  else result.assign(feats[rows]))
            knownness[eval_set] = max_cosine(feats[rows], class_means)
        return Predictions(clusters, knownness, "max_cosine_to_labelled_class_means",
                           {"kmeans": config.resolved(semi_supervised=False), "inertia": result.inertia, "n_iter": result.n_iter})

"""Semi-supervised k-means (GCD) on frozen backbone features, K given (methods/README.md)."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.clustering import KMeansConfig, semi_supervised_kmeans
from benchmark.features import l2_normalise, max_cosine
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least
from benchmark.number_of_classes import require_k, require_k_given
from benchmark.task import GCDTask


@dataclass
class SSKMeansParams:
    n_init: int = at_least(100, 1)  # the released k_means.sh (argument default 10)
    max_iter: int = at_least(200, 1)
    tol: float = 1e-4
    seed: int = 0


@METHODS.register("ss-kmeans")
class SemiSupervisedKMeans(Method):
    """Labelled class means seed the first K_old centres and labelled points stay pinned to them."""

    Params = SSKMeansParams
    profiles = {"cpu": {"n_init": 10},
                "smoke": {"n_init": 2}}
    summary = "SS-k-means: GCD's semi-supervised k-means on frozen backbone features"

    def check(self, shape: TaskShape) -> None:
        require_k_given(shape, "ss-kmeans")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        feats = l2_normalise(task.frozen_features)
        config = KMeansConfig(require_k(task, "ss-kmeans"), p.n_init, p.max_iter, p.tol, p.seed)
        result = semi_supervised_kmeans(feats[task.unlabelled_idx], config, feats[task.labelled_idx],
                                        task.labelled_y)
        clusters, knownness = {}, {}
        for eval_set in task.prediction_sets:
            rows = task.indices(eval_set)
            clusters[eval_set] = result.labels if eval_set == "unlabelled_train" else result.assign(feats[rows])
            knownness[eval_set] = max_cosine(feats[rows], result.centres[:task.n_known])
        return Predictions(clusters, knownness, "max_cosine_to_labelled_cluster_centres",
                           {"kmeans": config.resolved(semi_supervised=True), "inertia": result.inertia, "n_iter": result.n_iter})

"""GCD (Vaze et al., CVPR 2022): contrastive fine-tuning, then semi-supervised k-means (methods/README.md, "GCD").

Loss: (1 - λ) InfoNCE(all rows, τ_u = 1.0) + λ SupCon(labelled rows, τ = 0.07), λ = 0.35, both on the output of a
DINO-style projection head (65,536-d in the release); only the backbone's last block and the head train. Then
semi-supervised k-means on the fine-tuned backbone's L2-normalised features (never the head's output).
Model selection: last epoch (the release's "best old-class test accuracy" is not offered: it reads test labels).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from benchmark.clustering import KMeansConfig, semi_supervised_kmeans
from benchmark.features import l2_normalise, max_cosine
from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least, require_steps
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput, features_of, training_input
from benchmark.training.heads import DINOHead
from benchmark.training.losses import info_nce, supcon
from benchmark.training.view_bank import check_view_bank, require_trunk
from benchmark.training.trainer import Batch, EpochStartFn, OptimConfig, ViewFn, fit
from benchmark.number_of_classes import estimate_k, require_k


@dataclass
class GCDParams:
    epochs: int = at_least(200, 1)
    batch_size: int = at_least(128, 1)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-5  # the released script (argument default 1e-4)
    sup_con_weight: float = 0.35  # the released script (argument default 0.5)
    info_nce_temperature: float = 1.0
    supcon_temperature: float = 0.07
    head_hidden_dim: int = at_least(2048, 1)
    head_bottleneck_dim: int = at_least(256, 1)
    head_out_dim: int = at_least(65536, 1)
    crop_pct: float = 0.875
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views
    n_init: int = at_least(100, 1)  # SS-k-means restarts (k_means.sh)
    max_iter: int = at_least(200, 1)
    kmeans_seed: int = 0
    estimate_k: bool = False  # also estimate K (Brent's method) where the protocol gives it; always where it does not
    k_max: int = at_least(1000, 1)

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "gcd")


class GCDNetwork(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone, self.head = backbone, head


@METHODS.register("gcd")
class GCD(Method):
    Params = GCDParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        GCDParams, weights=("sup_con_weight",), temperatures=("supcon_temperature",))
    profiles = {"cpu": {"budget": 16, "batch_size": 128, "head_hidden_dim": 512, "head_out_dim": 4096,
                        "n_init": 10, "k_max": 60, "view_bank": 8},  # budget: benchmark/budget.py
                "smoke": {"epochs": 1, "batch_size": 16, "head_hidden_dim": 32, "head_out_dim": 64, "n_init": 2,
                          "k_max": 60}}
    name = "gcd"  # in progress bars; a subclass sets its own
    summary = "GCD: contrastive fine-tuning (SupCon + InfoNCE) then semi-supervised k-means"

    def check(self, shape: TaskShape) -> None:
        require_steps(shape, self.params.batch_size, self.name)
        require_trunk(shape, self.params.view_bank, self.name)
        if self._estimates_k(shape.n_classes) and self.params.k_max <= shape.n_known:
            raise GFaceError(f"{self.name}.k_max={self.params.k_max}: the K search runs from K_old = {shape.n_known} to "
                             f"k_max and a GCD task has new classes, so k_max must exceed K_old; raise it, e.g. "
                             f"--set {self.name}.k_max={4 * (shape.n_known + 1)}")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        head = DINOHead(task.backbone.feature_dim, p.head_hidden_dim, p.head_bottleneck_dim, p.head_out_dim)
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = GCDNetwork(inputs.trained, head)
        views, epoch_start = self._training_hooks(task, inputs)
        stats = fit(network, self._step, views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=True),
                    task.work_dir, task.seed, task.device, desc=self.name, epoch_start=epoch_start)
        sets = ("unlabelled_train",) + task.inductive_sets
        rows = [task.labelled_idx] + [task.indices(s) for s in sets]
        feats = l2_normalise(features_of(task, inputs.network, np.concatenate(rows)))
        n_l, n_u = len(task.labelled_idx), len(task.unlabelled_idx)
        set_feats = dict(zip(("labelled",) + sets, np.split(feats, np.cumsum([len(r) for r in rows])[:-1])))
        f_l, f_u = set_feats["labelled"], set_feats["unlabelled_train"]
        k, k_scores = self._number_of_classes(task, feats[:n_l + n_u])
        result = semi_supervised_kmeans(f_u, KMeansConfig(k, p.n_init, p.max_iter, seed=p.kmeans_seed), f_l,
                                        task.labelled_y)
        clusters = {s: result.labels if s == "unlabelled_train" else result.assign(set_feats[s])
                    for s in task.prediction_sets}
        knownness = {s: max_cosine(set_feats[s], result.centres[:task.n_known]) for s in task.prediction_sets}
        return Predictions(clusters, knownness, "max_cosine_to_labelled_cluster_centres",
                           {"train": vars(stats), **inputs.record, "k_used": k, "k_estimates": k_scores,
                            "inertia": result.inertia}, k_estimated=k if k_scores else None)

    def _training_hooks(self, task: GCDTask, inputs: TrainingInput) -> tuple[ViewFn, EpochStartFn | None]:
        """The view maker and the per-epoch hook ``fit`` gets (GCD: the inputs' views, no hook)."""
        return inputs.views, None

    def _step(self, network: GCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        z = network.head(network.backbone(batch.views))
        labelled = batch.is_labelled.repeat(2)
        unsup = info_nce(z, p.info_nce_temperature)
        sup = supcon(z[labelled], batch.labels.repeat(2)[labelled], p.supcon_temperature)
        loss = (1 - p.sup_con_weight) * unsup + p.sup_con_weight * sup
        return loss, {"infonce": unsup.item(), "supcon": sup.item()}

    def _estimates_k(self, n_classes: int | None) -> bool:
        return self.params.estimate_k or n_classes is None

    def _number_of_classes(self, task: GCDTask, train_feats: np.ndarray) -> tuple[int, dict]:
        if not self._estimates_k(task.n_classes):
            return require_k(task, self.name), {}
        k, scores = estimate_k(train_feats, np.arange(len(task.labelled_idx)), task.labelled_y, task.n_known,
                               self.params.k_max, seed=self.params.kmeans_seed)
        return k, {str(key): value for key, value in sorted(scores.items())}

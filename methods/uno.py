"""UNO+ (Fini et al., ICCV 2021, as adapted to GCD by Vaze et al., CVPR 2022; methods/README.md, "UNO+").

A labelled head (cosine prototypes for the K_old known classes on the normalised feature) and H clustering heads
(MLP -> normalise -> cosine prototypes for the K_new new classes), plus H over-clustering heads (K_new x 3). For
each head, the labelled logits concatenated with the head's logits cover all K classes; labelled rows are taught by
their one-hot label, unlabelled rows by Sinkhorn-Knopp pseudo-labels (equipartition) over all K classes of the other
view (swapped prediction), softmax temperature 0.1. Loss: the mean over heads, (clustering + over-clustering) / 2.
Predictions: argmax over [labelled head; the clustering head of lowest loss in the last epoch]. Knownness:
probability mass on the known classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least
from benchmark.search_space import tuned
from benchmark.number_of_classes import require_k
from benchmark.task import GCDTask
from benchmark.training.backbone_training import check_classifier_training, classify_sets, training_input
from benchmark.training.epoch_mean import EpochMean
from benchmark.training.heads import CosineLinear
from benchmark.training.sinkhorn import sinkhorn_knopp
from benchmark.training.trainer import Batch, OptimConfig, fit
from benchmark.training.view_bank import check_view_bank


@dataclass
class UNOParams:
    epochs: int = at_least(200, 1)  # GCD's UNO+ schedule (UNO: 500 on CIFAR, 60 on ImageNet)
    batch_size: int = at_least(128, 1)  # GCD's UNO+ (UNO: 512 on CIFAR)
    lr: float = 0.4
    min_lr: float = 0.001  # cosine schedule floor
    momentum: float = 0.9
    weight_decay: float = 1.5e-4
    warmup_epochs: int = 10  # linear learning-rate warm-up
    num_heads: int = at_least(4, 1)  # the release's commands for the paper's tables (argument default 5)
    overcluster_factor: int = at_least(3, 1)
    hidden_dim: int = at_least(2048, 1)
    proj_dim: int = at_least(256, 1)
    temperature: float = 0.1
    sinkhorn_epsilon: float = 0.05
    sinkhorn_iters: int = at_least(3, 1)
    ncd_targets: bool = False  # True: UNO's novel-class-discovery targets (pseudo-labels over the new classes only)
    crop_pct: float = 0.875
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "uno")


class ClusterHead(nn.Module):
    """UNO's clustering head: Linear -> BatchNorm -> ReLU -> Linear, L2-normalised, cosine prototypes."""

    def __init__(self, in_dim: int, hidden_dim: int, proj_dim: int, n_prototypes: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(),
                                 nn.Linear(hidden_dim, proj_dim))
        self.prototypes = CosineLinear(proj_dim, n_prototypes)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.prototypes(self.mlp(feats))


class UNONetwork(nn.Module):
    """Backbone -> (H, 2B, K) logits over all classes, per clustering head and per over-clustering head."""

    def __init__(self, backbone: nn.Module, feature_dim: int, n_known: int, n_new: int, p: UNOParams):
        super().__init__()
        self.backbone, self.n_known = backbone, n_known
        self.labelled_head = CosineLinear(feature_dim, n_known)
        self.cluster_heads = nn.ModuleList(ClusterHead(feature_dim, p.hidden_dim, p.proj_dim, n_new)
                                           for _ in range(p.num_heads))
        self.overcluster_heads = nn.ModuleList(
            ClusterHead(feature_dim, p.hidden_dim, p.proj_dim, n_new * p.overcluster_factor)
            for _ in range(p.num_heads))
        self.head_loss = EpochMean(p.num_heads)  # clustering loss per head over the epoch: picks the best head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.logits(self.backbone(x))

    def logits(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        known = self.labelled_head(feats)
        return (torch.stack([torch.cat([known, head(feats)], 1) for head in self.cluster_heads]),
                torch.stack([torch.cat([known, head(feats)], 1) for head in self.overcluster_heads]))


def swapped_targets(logits: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor, n_known: int,
                    epsilon: float, n_iters: int, ncd_targets: bool = False) -> torch.Tensor:
    """Targets (N, K) of one view's rows: one-hot labels for labelled rows, Sinkhorn-Knopp pseudo-labels of the
    unlabelled rows over all K classes (``ncd_targets``: over the classes after the first ``n_known`` only)."""
    targets = torch.zeros_like(logits, dtype=torch.float32)
    targets[labelled] = F.one_hot(labels[labelled], logits.shape[1]).float()
    if (~labelled).any():
        first = n_known if ncd_targets else 0
        targets[~labelled, first:] = sinkhorn_knopp(logits[~labelled, first:], epsilon, n_iters)
    return targets


def swapped_prediction(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cross-entropy of each view's prediction (rows: view 1, then view 2) against the other view's targets."""
    log_prob = F.log_softmax(logits.float() / temperature, dim=1)
    swapped = torch.cat(targets.chunk(2)[::-1])
    return -(swapped * log_prob).sum(1).mean()


@METHODS.register("uno")
class UNO(Method):
    Params = UNOParams
    search_space = tuned(UNOParams, temperatures=("temperature",))  # the one rule: benchmark/search_space.py
    budget_params = ("warmup_epochs",)
    # cpu: the budget from the learning curves (benchmark/budget.py), a view bank (benchmark/speed/README.md, 4)
    profiles = {"cpu": {"budget": 16, "hidden_dim": 512, "view_bank": 8},
                "smoke": {"epochs": 1, "batch_size": 16, "warmup_epochs": 1, "num_heads": 2, "hidden_dim": 32,
                          "proj_dim": 16}}
    summary = "UNO+: multi-head swapped prediction with Sinkhorn-Knopp pseudo-labels over labelled + new-class heads"

    def check(self, shape: TaskShape) -> None:
        check_classifier_training(shape, self.params.batch_size, self.params.view_bank, "uno")
        if shape.n_classes <= shape.n_known:
            raise GFaceError(f"uno: protocol {shape.protocol_id!r} gives K = {shape.n_classes} classes and "
                             f"{shape.n_known} known ones, so the new-class heads would be empty; use a protocol "
                             f"with new classes (K > K_old)")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        k = require_k(task, "uno")
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = UNONetwork(inputs.trained, task.backbone.feature_dim, task.n_known, k - task.n_known, p)
        optim = OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=True,
                            min_lr_ratio=p.min_lr / p.lr, warmup_fraction=p.warmup_epochs / p.epochs)
        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    optim, task.work_dir, task.seed, task.device, desc="uno")
        best_head = int(network.head_loss.current().argmin())
        network = network.cpu().eval()
        clusters, knownness = classify_sets(task, inputs.network, lambda feats: network.logits(feats)[0][best_head],
                                            p.temperature)
        return Predictions(clusters, knownness, "known_class_probability_mass",
                           {"train": vars(stats), **inputs.record, "best_head": best_head})

    def _step(self, network: UNONetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        cluster_logits, overcluster_logits = network(batch.views)
        per_head = torch.stack([self._head_loss(logits, batch, network.n_known) for logits in cluster_logits])
        over_per_head = torch.stack([self._head_loss(logits, batch, network.n_known) for logits in overcluster_logits])
        network.head_loss.update(batch.epoch, per_head)
        cluster, overcluster = per_head.mean(), over_per_head.mean()
        return (cluster + overcluster) / 2, {"cluster": cluster.item(), "overcluster": overcluster.item()}

    def _head_loss(self, logits: torch.Tensor, batch: Batch, n_known: int) -> torch.Tensor:
        p = self.params
        targets = torch.cat([swapped_targets(view, batch.labels, batch.is_labelled, n_known, p.sinkhorn_epsilon,
                                             p.sinkhorn_iters, p.ncd_targets) for view in logits.detach().chunk(2)])
        return swapped_prediction(logits, targets, p.temperature)

"""ORCA (Cao, Brbić, Leskovec, ICLR 2022; methods/README.md, "ORCA").

A cosine classifier over all K classes (logits s·cos, s = 10) on the backbone feature; loss
L_pair + η1 L_sup + η2 R with η1 = η2 = 1: the pairwise objective (binary cross-entropy that a row and its partner's
other view agree: the partner of a labelled row is another row of its class, that of an unlabelled row its nearest
neighbour in the batch by feature cosine), cross-entropy on labelled rows with the uncertainty-adaptive negative
margin (the target logit raised by s·λ·ū, ū the mean uncertainty 1 - max softmax over D_U, measured in eval mode
with the test transform before each epoch and capped at 0.5, as the release), and the entropy regulariser on the
mean prediction. Predictions:
argmax over the K classes. Knownness: probability mass on the known classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least
from benchmark.search_space import tuned
from benchmark.number_of_classes import require_k
from benchmark.task import GCDTask
from benchmark.training.backbone_training import (check_classifier_training, classify_sets, features_during_training,
                                                   training_input)
from benchmark.training.heads import CosineLinear
from benchmark.training.losses import mean_entropy_regulariser
from benchmark.training.trainer import Batch, OptimConfig, fit
from benchmark.training.view_bank import check_view_bank


@dataclass
class ORCAParams:
    epochs: int = at_least(200, 1)
    batch_size: int = at_least(512, 1)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    first_lr_drop_epoch: int = 140  # step decay: lr x lr_drop at these epochs
    second_lr_drop_epoch: int = 180
    lr_drop: float = 0.1
    logit_scale: float = 10.0  # s: logits are s x cosine
    margin_weight: float = 1.0  # λ: the target logit is raised by s λ ū
    uncertainty_cap: float = 0.5  # ū is capped here (the release); 1 or more: no cap
    supervised_weight: float = 1.0  # η1
    entropy_weight: float = 1.0  # η2
    crop_pct: float = 0.875
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "orca")


class ORCANetwork(nn.Module):
    """Backbone -> (feature, cosines to the K class weights); ``mean_uncertainty`` is the epoch's ū (a plain
    attribute: measured from the model at every epoch start, never checkpointed)."""

    def __init__(self, backbone: nn.Module, feature_dim: int, n_classes: int, pair_seed: int):
        super().__init__()
        self.backbone, self.pair_seed = backbone, pair_seed
        self.classifier = CosineLinear(feature_dim, n_classes)
        self.mean_uncertainty = 0.0

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.backbone(x)
        return feats, self.classifier(feats)


def adaptive_margin_cross_entropy(cosines: torch.Tensor, labels: torch.Tensor, margin: float,
                                  scale: float) -> torch.Tensor:
    """Cross-entropy of ``scale x cosines`` with the target logit raised by ``scale x margin`` (a negative margin)."""
    if len(labels) == 0:
        return cosines.sum() * 0.0
    logits = scale * cosines.float() + scale * margin * F.one_hot(labels, cosines.shape[1])
    return F.cross_entropy(logits, labels)


def pair_partners(feats: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """For each row, the row it is paired with: a uniformly drawn other labelled row of the same class (itself when
    it is its class's only row), or for an unlabelled row its nearest other row (all rows) by feature cosine."""
    n = len(labels)
    others = ~torch.eye(n, dtype=torch.bool, device=feats.device)
    normalised = F.normalize(feats.detach().float(), dim=1)
    nearest = (normalised @ normalised.T).masked_fill(~others, float("-inf")).argmax(1)
    same_class = labelled[:, None] & labelled[None, :] & (labels[:, None] == labels[None, :]) & others
    keys = torch.rand(n, n, generator=generator).to(feats.device).masked_fill(~same_class, -1.0)
    drawn = torch.where(same_class.any(1), keys.argmax(1), torch.arange(n, device=feats.device))
    return torch.where(labelled, drawn, nearest)


def pairwise_loss(prob: torch.Tensor, partner_prob: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy that each pair is of one class, ``-mean log <p_i, p'_partner(i)>``, as the release's
    ``nn.BCELoss`` computes it: the log clamped at -100, the gradient followed down to a similarity of about 1e-12
    (float32, outside autocast, which refuses this loss)."""
    similarity = (prob.float() * partner_prob.float()).sum(1).clamp(max=1.0)  # rounding may pass 1 by an ulp
    with torch.autocast(device_type=prob.device.type, enabled=False):
        return F.binary_cross_entropy(similarity, torch.ones_like(similarity))


@torch.no_grad()
def mean_uncertainty(cosines: torch.Tensor, scale: float) -> float:
    """ū = 1 - mean over rows of the largest softmax probability of ``scale x cosines``."""
    return float(1 - F.softmax(scale * cosines.float(), dim=1).max(1).values.mean())


def unlabelled_uncertainty(unlabelled_features: Callable[[], np.ndarray], classifier: CosineLinear,
                           scale: float) -> float:
    """ū of D_U as the release measures it before each epoch: test-transform images, the model in eval mode."""
    feats = torch.from_numpy(unlabelled_features())
    with torch.no_grad():
        cosines = classifier.eval()(feats.to(next(classifier.parameters()).device))
    return mean_uncertainty(cosines, scale)


@METHODS.register("orca")
class ORCA(Method):
    Params = ORCAParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        ORCAParams, weights=("margin_weight", "entropy_weight"))
    budget_params = ("first_lr_drop_epoch", "second_lr_drop_epoch")
    # cpu: the budget from the learning curves (benchmark/budget.py), a view bank (benchmark/speed/README.md, 4)
    profiles = {"cpu": {"budget": 16, "batch_size": 128, "view_bank": 8},
                "smoke": {"epochs": 1, "batch_size": 16}}
    version = 2  # 2: ū from an eval-mode pass over D_U before each epoch; the release's BCE clamp
    summary = "ORCA: cosine classifier with an uncertainty-adaptive margin, pairwise pseudo-labels and entropy"

    def check(self, shape: TaskShape) -> None:
        check_classifier_training(shape, self.params.batch_size, self.params.view_bank, "orca")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        k = require_k(task, "orca")
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = ORCANetwork(inputs.trained, task.backbone.feature_dim, k, task.seed)
        measured: dict[str, float] = {}
        unlabelled_features = features_during_training(task, inputs, task.unlabelled_idx)

        def measure_uncertainty(model: ORCANetwork, epoch: int) -> None:  # fit's epoch_start: exact on resume
            model.mean_uncertainty = unlabelled_uncertainty(unlabelled_features, model.classifier, p.logit_scale)
            measured[str(epoch)] = round(model.mean_uncertainty, 6)

        optim = OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=True,
                            lr_milestones=(p.first_lr_drop_epoch, p.second_lr_drop_epoch), lr_milestone_gamma=p.lr_drop)
        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    optim, task.work_dir, task.seed, task.device, desc="orca", epoch_start=measure_uncertainty)
        clusters, knownness = classify_sets(task, inputs.network, network.classifier.cpu(), 1.0 / p.logit_scale)
        return Predictions(clusters, knownness, "known_class_probability_mass",
                           {"train": vars(stats), **inputs.record, "mean_uncertainty_by_epoch": measured})

    def _step(self, network: ORCANetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        feats, cosines = network(batch.views)
        n = len(batch.labels)
        labelled = batch.is_labelled
        prob, other_view_prob = F.softmax(p.logit_scale * cosines.float(), dim=1).split(n)
        margin = p.margin_weight * min(network.mean_uncertainty, p.uncertainty_cap)
        generator = torch.Generator().manual_seed(network.pair_seed * 1_000_003 + batch.step)
        partners = pair_partners(feats[:n], batch.labels, labelled, generator)
        pair = pairwise_loss(prob, other_view_prob[partners])
        sup = adaptive_margin_cross_entropy(cosines[:n][labelled], batch.labels[labelled], margin, p.logit_scale)
        entropy = mean_entropy_regulariser(cosines[:n].float(), 1.0 / p.logit_scale)
        loss = pair + p.supervised_weight * sup + p.entropy_weight * entropy
        return loss, {"pair": pair.item(), "sup": sup.item(), "entropy": entropy.item(), "margin": margin}

"""SimGCD (Wen, Zhao, Qi, ICCV 2023): a parametric baseline for GCD (methods/README.md, "SimGCD").

Cosine prototypes on the L2-normalised backbone feature; loss
(1-λ)(L_dist + ε L_me) + λ L_CE + (1-λ) L_InfoNCE + λ L_SupCon, λ = 0.35, with cross-view self-distillation
(teacher temperature 0.07 -> 0.04 over the first 30 epochs, student 0.1), the mean-entropy regulariser, supervised
cross-entropy, and the GCD representation losses on a 256-d projector. Only the backbone's last block, the
projector and the prototypes train; SGD without weight decay on biases and 1-D parameters. Predictions: argmax of
the classifier, last epoch. Knownness: probability mass on the known classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least, require_steps
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput, features_of, training_input
from benchmark.training.knownness_scores import known_mass
from benchmark.training.heads import CosineLinear, ProjectionMLP
from benchmark.training.rebalance_addon import RebalanceAddon, check_inputs
from benchmark.training.losses import (cross_view_distillation, info_nce, labelled_cross_entropy,
                                       mean_entropy_regulariser, supcon, teacher_temperature)
from benchmark.training.view_bank import check_view_bank, require_trunk
from benchmark.training.trainer import Batch, OptimConfig, fit
from benchmark.number_of_classes import require_k, require_k_given


@dataclass
class SimGCDParams:
    epochs: int = at_least(200, 1)
    batch_size: int = at_least(128, 1)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-5
    sup_weight: float = 0.35
    memax_weight: float = 1.0  # no FER value published; 1 is what the DIG-FACE scripts pass (release default 2)
    student_temperature: float = 0.1
    teacher_temperature_start: float = 0.07
    teacher_temperature_end: float = 0.04
    teacher_warmup_epochs: int = 30
    info_nce_temperature: float = 1.0
    supcon_temperature: float = 0.07
    proj_hidden_dim: int = at_least(2048, 1)
    proj_out_dim: int = at_least(256, 1)
    crop_pct: float = 0.875
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views
    rebalance: float = 0.0  # MEK add-on (training/rebalance_addon.py): > 0 replaces L_CE's one-hot targets with
    # re-balanced smooth labels and adds rebalance * 0.1 L_RAC; 0 = off

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "simgcd")
        check_inputs(self.rebalance, self.view_bank, "simgcd")


class SimGCDNetwork(nn.Module):
    """Backbone -> (projector output z, cosine logits of the normalised feature)."""

    def __init__(self, backbone: nn.Module, feature_dim: int, n_classes: int, hidden: int, out: int):
        super().__init__()
        self.backbone = backbone
        self.projector = ProjectionMLP(feature_dim, hidden, out)
        self.prototypes = CosineLinear(feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.backbone(x)
        return self.projector(feats), self.prototypes(feats)


def prototype_predictions(task: GCDTask, inputs: TrainingInput, prototypes: nn.Module,
                          temperature: float) -> tuple[dict, dict]:
    """Clusters (argmax of the cosine prototypes on the fine-tuned backbone feature) and knownness (probability
    mass on the known classes) for every set in ``task.prediction_sets``."""
    clusters, knownness = {}, {}
    for eval_set in task.prediction_sets:
        feats = torch.from_numpy(features_of(task, inputs.network, task.indices(eval_set)))
        with torch.no_grad():
            logits = prototypes.cpu()(feats)
        clusters[eval_set] = logits.argmax(1).numpy()
        knownness[eval_set] = known_mass(logits, task.n_known, temperature)
    return clusters, knownness


@METHODS.register("simgcd")
class SimGCD(Method):
    Params = SimGCDParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        SimGCDParams, weights=("sup_weight", "memax_weight"), temperatures=("student_temperature",))
    name = "simgcd"  # in messages and progress bars; a subclass sets its own
    budget_params = ("teacher_warmup_epochs",)
    # cpu: the budget from the learning curves (benchmark/budget.py), a view bank (benchmark/speed/README.md, 4)
    profiles = {"cpu": {"budget": 16, "proj_hidden_dim": 512, "view_bank": 8},
                "smoke": {"epochs": 1, "batch_size": 16, "teacher_warmup_epochs": 1, "proj_hidden_dim": 32}}
    version = 2  # 2: the MEK add-on replaces L_CE's one-hot targets (rebalance > 0 only)
    summary = "SimGCD: cosine-prototype classifier with self-distillation and mean-entropy regularisation"

    def check(self, shape: TaskShape) -> None:
        require_k_given(shape, self.name)
        require_steps(shape, self.params.batch_size, self.name)
        require_trunk(shape, self.params.view_bank, self.name)

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        k = require_k(task, self.name)
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = self._network(task, inputs, k)
        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=False),
                    task.work_dir, task.seed, task.device, desc=self.name)
        clusters, knownness = prototype_predictions(task, inputs, network.prototypes, p.student_temperature)
        return Predictions(clusters, knownness, "known_class_probability_mass", {"train": vars(stats), **inputs.record})

    def _network(self, task: GCDTask, inputs: TrainingInput, k: int) -> SimGCDNetwork:
        p = self.params
        network = SimGCDNetwork(inputs.trained, task.backbone.feature_dim, k, p.proj_hidden_dim, p.proj_out_dim)
        if p.rebalance:
            network.rebalance = RebalanceAddon(task.backbone, task.labelled_y, len(task.unlabelled_idx), k, self.name)
        return network

    def _step(self, network: SimGCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        _, loss, logs = self._simgcd_loss(network, batch)
        return loss, logs

    def _distillation(self, network: SimGCDNetwork, batch: Batch, logits: torch.Tensor, student_temperature: float,
                      teacher_temperature_value: float) -> torch.Tensor:
        """L_dist: each view's sharpened, detached prediction teaches the other view (a subclass may change the
        teacher)."""
        return cross_view_distillation(logits, student_temperature, teacher_temperature_value)

    def _simgcd_loss(self, network: SimGCDNetwork,
                     batch: Batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The classifier's logits (2B rows), SimGCD's loss and its logged terms."""
        p = self.params
        z, logits = network(batch.views)
        labelled = batch.is_labelled.repeat(2)
        labels = batch.labels.repeat(2)
        ts = p.student_temperature
        tt = teacher_temperature(batch.epoch, p.teacher_warmup_epochs, p.teacher_temperature_start,
                                 p.teacher_temperature_end)
        if p.rebalance:
            network.rebalance.update_class_sizes(logits[~labelled].detach(), ts)
            ce = network.rebalance.smooth_label_loss(logits[labelled] / ts, labels[labelled])
        else:
            ce = labelled_cross_entropy(logits, labels, labelled, ts)
        distill = self._distillation(network, batch, logits, ts, tt)
        memax = mean_entropy_regulariser(logits, ts)
        unsup_con = info_nce(z, p.info_nce_temperature)
        sup_con = supcon(z[labelled], labels[labelled], p.supcon_temperature)
        w = p.sup_weight
        loss = (1 - w) * (distill + p.memax_weight * memax) + w * ce + (1 - w) * unsup_con + w * sup_con
        if p.rebalance:
            loss = loss + p.rebalance * network.rebalance.attention_consistency(
                network.backbone, batch.views[:len(batch.labels)], network.prototypes.weight)
        return logits, loss, {"ce": ce.item(), "distill": distill.item(), "memax": memax.item(),
                              "infonce": unsup_con.item(), "supcon": sup_con.item()}

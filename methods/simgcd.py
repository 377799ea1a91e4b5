"""SimGCD (Wen, Zhao, Qi, ICCV 2023): a parametric baseline for GCD (methods/README.md, "SimGCD").

Cosine prototypes on the L2-normalised backbone feature; loss
(1-λ)(L_dist + ε L_me) + λ L_CE + (1-λ) L_InfoNCE + λ L_SupCon, λ = 0.35, with cross-view self-distillation
(teacher temperature 0.07 -> 0.04 over the first 30 epochs, student 0.1), the mean-entropy regulariser, supervised
cross-entropy, and the GCD representation losses on a 256-d projector. Only the backbone's last block, the
projector and the prototypes train; SGD without weight decay on biases and 1-D parameters. Predictions: argmax of
the classifier, last epoch. Knownness: probability mass on the known classes. ``head=hyperbolic`` swaps projector,
prototypes and representation losses for HypCD's hyperbolic head (training/hyperbolic_head.py).
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
from benchmark.training.hyperbolic_head import (HyperbolicClassifier, check_head, distance_weight,
                                                hybrid_contrastive_loss)
from benchmark.training.rebalance_addon import RebalanceAddon, check_inputs
from benchmark.training.losses import (cross_view_distillation, info_nce, labelled_cross_entropy,
                                       mean_entropy_regulariser, supcon, teacher_temperature)
from benchmark.training.view_bank import check_view_bank, require_trunk
from benchmark.training.trainer import Batch, OptimConfig, TrainStats, fit
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
    head: str = "cosine"  # "hyperbolic": HypCD's head (training/hyperbolic_head.py); the five settings below
    curvature: float = 0.1  # c of the Poincaré ball (HypCD README example, CUB/DINO; release default 0.05)
    clip_radius: float = 2.0  # feature clipping radius r (README example; release default 0 = no clipping)
    angle_temperature_scale: float = 0.3  # angle losses' temperatures x this (README example; release default 1)
    distance_weight_max: float = 1.0  # α_max of the distance losses (release scripts)
    distance_ramp_fraction: float = 1.0  # α reaches α_max after this fraction of the epochs (release: 200 of 200)
    hyperbolic_released_code: bool = False  # the classifier's bias added by Möbius addition at c = 1 (release)

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "simgcd")
        check_inputs(self.rebalance, self.view_bank, "simgcd")
        check_head(self.head, self.rebalance, self.curvature, self.clip_radius, self.distance_weight_max, "simgcd")


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


class HyperbolicSimGCDNetwork(nn.Module):
    """Backbone -> (ball point of the clipped feature, hyperbolic logits); HypCD has no projector."""

    def __init__(self, backbone: nn.Module, prototypes: HyperbolicClassifier):
        super().__init__()
        self.backbone, self.prototypes = backbone, prototypes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ball = self.prototypes.to_ball(self.backbone(x))
        return ball, self.prototypes.classify(ball)


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
    later_params = {"head": "cosine", "curvature": 0.1, "clip_radius": 2.0, "angle_temperature_scale": 0.3,
                    "distance_weight_max": 1.0, "distance_ramp_fraction": 1.0,
                    "hyperbolic_released_code": False}  # HypCD's head came after the committed runs
    summary = "SimGCD: cosine-prototype classifier with self-distillation and mean-entropy regularisation"

    def check(self, shape: TaskShape) -> None:
        require_k_given(shape, self.name)
        require_steps(shape, self.params.batch_size, self.name)
        require_trunk(shape, self.params.view_bank, self.name)

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        inputs, network, stats = self._train(task)
        clusters, knownness = prototype_predictions(task, inputs, network.prototypes, p.student_temperature)
        return Predictions(clusters, knownness, "known_class_probability_mass", {"train": vars(stats), **inputs.record})

    def _train(self, task: GCDTask) -> tuple[TrainingInput, SimGCDNetwork, TrainStats]:
        """The training input, the network for the task's K trained by ``_step``, and the trainer's statistics."""
        p = self.params
        k = require_k(task, self.name)
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = self._network(task, inputs, k)
        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=False),
                    task.work_dir, task.seed, task.device, desc=self.name)
        return inputs, network, stats

    def _network(self, task: GCDTask, inputs: TrainingInput, k: int) -> SimGCDNetwork:
        p = self.params
        if p.head == "hyperbolic":
            return HyperbolicSimGCDNetwork(inputs.trained, HyperbolicClassifier(
                task.backbone.feature_dim, k, p.curvature, p.clip_radius, p.hyperbolic_released_code))
        network = SimGCDNetwork(inputs.trained, task.backbone.feature_dim, k, p.proj_hidden_dim, p.proj_out_dim)
        return self._with_addons(network, task, k)

    def _with_addons(self, network: SimGCDNetwork, task: GCDTask, k: int) -> SimGCDNetwork:
        """Attach the MEK add-on's state when ``rebalance`` is on."""
        if self.params.rebalance:
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

    def _simgcd_loss(self, network: SimGCDNetwork, batch: Batch,
                     outputs: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """The classifier's logits (2B rows), SimGCD's loss and its logged terms; ``outputs``: the network's
        ``(z, logits)`` of ``batch.views`` when the caller has computed them."""
        p = self.params
        z, logits = network(batch.views) if outputs is None else outputs
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
        w = p.sup_weight
        if p.head == "hyperbolic":
            alpha = distance_weight(batch.epoch, p.epochs, p.distance_ramp_fraction, p.distance_weight_max)
            representation, rep_logs = hybrid_contrastive_loss(
                z, labelled, labels, w, p.curvature, p.info_nce_temperature, p.supcon_temperature,
                p.angle_temperature_scale, alpha)
            loss = (1 - w) * (distill + p.memax_weight * memax) + w * ce + representation
            return logits, loss, {"ce": ce.item(), "distill": distill.item(), "memax": memax.item(), **rep_logs}
        unsup_con = info_nce(z, p.info_nce_temperature)
        sup_con = supcon(z[labelled], labels[labelled], p.supcon_temperature)
        loss = (1 - w) * (distill + p.memax_weight * memax) + w * ce + (1 - w) * unsup_con + w * sup_con
        if p.rebalance:
            loss = loss + p.rebalance * network.rebalance.attention_consistency(
                network.backbone, batch.views[:len(batch.labels)], network.prototypes.weight)
        return logits, loss, {"ce": ce.item(), "distill": distill.item(), "memax": memax.item(),
                              "infonce": unsup_con.item(), "supcon": sup_con.item()}

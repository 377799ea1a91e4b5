"""ProtoGCD (Ma et al., IEEE TPAMI 2025): unified prototypes for old and new classes (methods/README.md, "ProtoGCD").

SimGCD's network (cosine prototypes on the L2-normalised backbone feature, 256-d projector); loss
(1-λ)(L_DAPL + α L_ent + β L_sep) + λ L_CE + (1-λ) L_InfoNCE + λ L_SupCon, λ = 0.35, α = 2, β = 0.1.
L_DAPL: cross-view distillation from teacher predictions (temperature 0.05) in which the top r% rows of each view by
top-1/top-2 probability ratio get one-hot targets, r ramping 0 -> 1 over the first 100 epochs; L_ent: the
mean-entropy regulariser; L_sep: prototype separation. Without a given K, one model is trained per candidate K_old+1..k_max and
the one with the highest prototype score (labelled accuracy + centroid score) is kept. Knownness: probability mass on
the known classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.core.scorer import cluster_accuracy
from benchmark.method import Method, Predictions, TaskShape, at_least, require_steps
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput, features_of, training_input
from benchmark.training.losses import (cross_view_cross_entropy, info_nce, labelled_cross_entropy, linear_ramp,
                                       mean_entropy_regulariser, supcon)
from benchmark.training.trainer import Batch, OptimConfig, TrainStats, fit
from benchmark.training.view_bank import check_view_bank, require_trunk
from methods.simgcd import SimGCDNetwork, prototype_predictions


@dataclass
class ProtoGCDParams:
    epochs: int = at_least(200, 1)
    batch_size: int = at_least(128, 1)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-5
    sup_weight: float = 0.35  # λ
    entropy_weight: float = 2.0  # α (README commands; weight_entropy_reg)
    separation_weight: float = 0.1  # β: 0.1 on CIFAR-100, 0.05 on CUB (README commands); release default 1
    student_temperature: float = 0.1  # temp_logits
    teacher_temperature: float = 0.05  # temp_teacher_logits
    separation_temperature: float = 0.1  # the release passes temp_logits
    hard_ratio_start: float = 0.0  # r at the start of the ramp (README commands; release default 0.2)
    hard_ratio_end: float = 1.0
    hard_ratio_wait_epochs: int = 0  # epochs with r = 0 before the ramp
    hard_ratio_ramp_epochs: int = 100
    info_nce_temperature: float = 1.0
    supcon_temperature: float = 0.07
    proj_hidden_dim: int = at_least(2048, 1)
    proj_out_dim: int = at_least(256, 1)
    crop_pct: float = 0.875
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views
    k_max: int = at_least(20, 2)  # K not given: candidates K_old+1..k_max, one model each (no published range)
    centroid_score_weight: float = 1.0  # prototype score = labelled accuracy + this x centroid score

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "protogcd")


def hard_ratio(epoch: int, p: ProtoGCDParams) -> float:
    """r(epoch): 0 for ``hard_ratio_wait_epochs``, then linear from start to end over the ramp, then end."""
    if epoch < p.hard_ratio_wait_epochs:
        return 0.0
    return linear_ramp(epoch - p.hard_ratio_wait_epochs, p.hard_ratio_ramp_epochs, p.hard_ratio_start,
                       p.hard_ratio_end)


def adaptive_pseudo_labels(teacher: torch.Tensor, ratio: float) -> torch.Tensor:
    """DAPL for one view: the ``int(n * ratio)`` rows with the largest top-1 / top-2 probability ratio get the
    one-hot of their top class, the others keep their soft teacher prediction."""
    top2 = teacher.topk(2, dim=1).values
    confidence = top2[:, 0] / (top2[:, 1] + 1e-6)
    hard_rows = confidence.topk(int(len(teacher) * ratio)).indices
    targets = teacher.clone()
    targets[hard_rows] = F.one_hot(teacher[hard_rows].argmax(1), teacher.shape[1]).to(teacher.dtype)
    return targets


def prototype_separation(weight: torch.Tensor, temperature: float) -> torch.Tensor:
    """L_sep: mean over prototypes of log mean_{j != i} exp(cos(c_i, c_j) / temperature)."""
    prototypes = F.normalize(weight, dim=1)
    similarity = prototypes @ prototypes.T / temperature
    others = ~torch.eye(len(prototypes), dtype=torch.bool, device=weight.device)
    return torch.logsumexp(similarity.masked_fill(~others, float("-inf")), dim=1).sub(
        np.log(len(prototypes) - 1)).mean()


def prototype_score(feats_l: np.ndarray, labelled_y: np.ndarray, feats_u: np.ndarray, prototypes: torch.nn.Module,
                    n_known: int) -> dict[str, float]:
    """The two terms of the prototype score: the Hungarian accuracy of the prototypes' predictions on D_L, and the
    mean cosine between each known class's D_L centroid and the centroid of the D_U rows predicted as that class
    (0 where none is), both centroids of L2-normalised features."""
    f_l = F.normalize(torch.from_numpy(feats_l).float(), dim=1)
    f_u = F.normalize(torch.from_numpy(feats_u).float(), dim=1)
    with torch.no_grad():
        pred_l, pred_u = prototypes.cpu()(f_l).argmax(1), prototypes.cpu()(f_u).argmax(1)
    y = torch.as_tensor(labelled_y)
    cosines = []
    for c in range(n_known):
        predicted = pred_u == c
        pseudo = f_u[predicted].mean(0) if predicted.any() else torch.zeros(f_u.shape[1])
        cosines.append(F.cosine_similarity(f_l[y == c].mean(0), pseudo, dim=0).item())
    return {"accuracy": cluster_accuracy(labelled_y, pred_l.numpy()), "centroid": float(np.mean(cosines))}


@METHODS.register("protogcd")
class ProtoGCD(Method):
    Params = ProtoGCDParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        ProtoGCDParams, weights=("sup_weight", "entropy_weight", "separation_weight"),
        temperatures=("student_temperature",))
    budget_params = ("hard_ratio_wait_epochs", "hard_ratio_ramp_epochs")
    # cpu: as simgcd (benchmark/budget.py; benchmark/speed/README.md, 4); k_max 10 covers the basic-expression
    # protocols (K <= 8); a compound protocol without K needs a larger one (one training per candidate)
    profiles = {"cpu": {"budget": 16, "proj_hidden_dim": 512, "view_bank": 8, "k_max": 10},
                "smoke": {"epochs": 1, "batch_size": 16, "hard_ratio_ramp_epochs": 1, "proj_hidden_dim": 32,
                          "k_max": 4}}
    summary = "ProtoGCD: unified cosine prototypes with dual-level adaptive pseudo-labels and its own K estimate"

    def check(self, shape: TaskShape) -> None:
        require_steps(shape, self.params.batch_size, "protogcd")
        require_trunk(shape, self.params.view_bank, "protogcd")
        if shape.n_classes is None and self.params.k_max <= shape.n_known:
            raise GFaceError(f"protogcd.k_max={self.params.k_max}: protocol {shape.protocol_id!r} does not give K, "
                             f"so K is searched from K_old + 1 = {shape.n_known + 1} to k_max; raise it, e.g. "
                             f"--set protogcd.k_max={2 * shape.n_known + 2}")

    def run(self, task: GCDTask) -> Predictions:
        if task.n_classes is not None:
            inputs, network, stats = self._train(task, task.n_classes, Path(task.work_dir))
            k, k_scores = task.n_classes, {}
        else:
            inputs, network, stats, k, k_scores = self._estimate_k(task)
        clusters, knownness = prototype_predictions(task, inputs, network.prototypes, self.params.student_temperature)
        return Predictions(clusters, knownness, "known_class_probability_mass",
                           {"train": vars(stats), **inputs.record, "k_used": k, "k_estimates": k_scores},
                           k_estimated=k if k_scores else None)

    def _estimate_k(self, task: GCDTask) -> tuple[TrainingInput, SimGCDNetwork, TrainStats, int, dict]:
        """One model per candidate K (checkpoints in ``work_dir/k<K>``); the highest prototype score wins, the
        smaller K on a tie. Returns the winner and every candidate's score terms."""
        p = self.params
        scores, best = {}, None
        for k in range(task.n_known + 1, p.k_max + 1):
            inputs, network, stats = self._train(task, k, Path(task.work_dir) / f"k{k}")
            feats_l = features_of(task, inputs.network, task.labelled_idx)
            feats_u = features_of(task, inputs.network, task.unlabelled_idx)
            terms = prototype_score(feats_l, task.labelled_y, feats_u, network.prototypes, task.n_known)
            terms["score"] = terms["accuracy"] + p.centroid_score_weight * terms["centroid"]
            scores[str(k)] = terms
            if best is None or terms["score"] > best[0]:
                best = (terms["score"], k, inputs, network, stats)
        _, k, inputs, network, stats = best
        return inputs, network, stats, k, scores

    def _train(self, task: GCDTask, k: int, work_dir: Path) -> tuple[TrainingInput, SimGCDNetwork, TrainStats]:
        p = self.params
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = SimGCDNetwork(inputs.trained, task.backbone.feature_dim, k, p.proj_hidden_dim, p.proj_out_dim)
        work_dir.mkdir(parents=True, exist_ok=True)
        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=False),
                    work_dir, task.seed, task.device, desc=f"protogcd K={k}")
        return inputs, network, stats

    def _step(self, network: SimGCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        z, logits = network(batch.views)
        labelled = batch.is_labelled.repeat(2)
        labels = batch.labels.repeat(2)
        ts, ratio = p.student_temperature, hard_ratio(batch.epoch, p)
        teacher = F.softmax(logits.detach().float() / p.teacher_temperature, dim=1)
        targets = torch.cat([adaptive_pseudo_labels(view, ratio) for view in teacher.chunk(2)])
        dapl = cross_view_cross_entropy(logits, ts, targets)
        entropy = mean_entropy_regulariser(logits, ts)
        separation = prototype_separation(network.prototypes.weight, p.separation_temperature)
        ce = labelled_cross_entropy(logits, labels, labelled, ts)
        unsup_con = info_nce(z, p.info_nce_temperature)
        sup_con = supcon(z[labelled], labels[labelled], p.supcon_temperature)
        w = p.sup_weight
        loss = ((1 - w) * (dapl + p.entropy_weight * entropy + p.separation_weight * separation) + w * ce
                + (1 - w) * unsup_con + w * sup_con)
        return loss, {"ce": ce.item(), "dapl": dapl.item(), "entropy": entropy.item(),
                      "separation": separation.item(), "infonce": unsup_con.item(), "supcon": sup_con.item()}

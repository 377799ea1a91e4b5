"""DebGCD (Liu, Han, ICLR 2025): SimGCD plus an auxiliary debiased classifier and a semantic distribution detector
(methods/README.md, "DebGCD").

L = L_SimGCD + β_sdl (L_ova + 0.1 L_ent + L_soc) + β_adl ((1 - π) L_deb^L + π L_deb^U). The detector is a one-vs-all
(OVA) classifier over the known classes on its own MLP feature (cosine logits / 0.1): L_ova on labelled rows (the
true class positive, the hardest other class negative), on unlabelled rows the mean binary entropy L_ent and the
squared difference L_soc of the two views' OVA probabilities. The debiased classifier (cosine prototypes over all K
classes on the GCD classifier's feature) learns the labels of D_L and, on unlabelled rows, the GCD classifier's
confident pseudo-labels (top probability >= τ), each weighted by the detector's certainty |2 u - 1|, u the
probability that the row is *not* its most likely known class. Predictions: the GCD classifier, last epoch.
Knownness: the detector's largest "is class j" probability; the GCD classifier's known-class mass is kept as the
reference score.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Predictions
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput, features_of
from benchmark.training.heads import CosineLinear
from benchmark.training.knownness_scores import known_mass
from benchmark.training.rebalance_addon import check_inputs
from benchmark.training.trainer import Batch
from benchmark.training.view_bank import check_view_bank
from methods.simgcd import SimGCD, SimGCDNetwork, SimGCDParams


@dataclass
class DebGCDParams(SimGCDParams):
    debias_weight: float = 1.0  # β_adl (release default; its scripts 0.5-4 per dataset)
    pseudo_label_share: float = 0.5  # π: the unlabelled share of the debiased term (release default and scripts)
    confidence_threshold: float = 0.95  # τ on softmax(GCD logits / 0.1) (release default; scripts 0.55-0.7)
    debias_temperature: float = 0.1  # the debiased classifier's logits / this (release pseudo_temp)
    detector_weight: float = 0.01  # β_sdl (release default; scripts 0.001-0.005)
    detector_entropy_weight: float = 0.1  # L_ent's weight inside the detector term (release 9ec30fe, hard-coded)
    detector_consistency_weight: float = 1.0  # L_soc's weight inside the detector term (release 9ec30fe)
    detector_layers: int = 5  # linear layers of the detector MLP (release num_ood_layers default)
    detector_temperature: float = 0.1  # OVA cosine logits / this (release, hard-coded)
    released_code: bool = False  # the detector's logs as the release takes them: log(p + 1e-8)

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "debgcd")
        check_inputs(self.rebalance, self.view_bank, "debgcd")
        if self.head != "cosine":
            raise GFaceError(f"debgcd.head={self.head!r}: DebGCD's debiased classifier shares the cosine "
                             f"prototypes' feature space; set debgcd.head=cosine")
        if self.detector_layers < 2:
            raise GFaceError(f"debgcd.detector_layers={self.detector_layers}: the detector MLP needs at least 2 "
                             f"linear layers (release: 5)")


class DetectorMLP(nn.Module):
    """Linear -> GELU -> (Linear -> GELU) x (layers - 2) -> Linear, truncated-normal std 0.02 weights, zero biases;
    then L2-normalised and a cosine layer to 2 x n_known OVA logits: column j "not class j", column n_known + j
    "class j"."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, layers: int, n_known: int):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (layers - 1) + [out_dim]
        modules: list[nn.Module] = []
        for i in range(layers):
            modules.append(nn.Linear(dims[i], dims[i + 1]))
            if i < layers - 1:
                modules.append(nn.GELU())
        self.mlp = nn.Sequential(*modules)
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.ova = CosineLinear(out_dim, 2 * n_known)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.ova(self.mlp(feats))


class DebGCDNetwork(SimGCDNetwork):
    def __init__(self, backbone: nn.Module, feature_dim: int, n_classes: int, n_known: int, hidden: int, out: int,
                 detector_layers: int):
        super().__init__(backbone, feature_dim, n_classes, hidden, out)
        self.debiased = CosineLinear(feature_dim, n_classes)
        self.detector = DetectorMLP(feature_dim, hidden, out, detector_layers, n_known)


def ova_probabilities(ova_logits: torch.Tensor) -> torch.Tensor:
    """(N, 2, C): softmax over each class's pair (index 0 "not class j", index 1 "class j")."""
    return F.softmax(ova_logits.view(len(ova_logits), 2, -1), dim=1)


def ova_log_probabilities(ova_logits: torch.Tensor, released_code: bool = False) -> torch.Tensor:
    """log of ``ova_probabilities``; ``released_code``: ``log(p + 1e-8)`` as the release, which caps -log p at 18.4
    and so stops the gradient of a pair whose probability is below about 1e-8."""
    if released_code:
        return torch.log(ova_probabilities(ova_logits) + 1e-8)
    return F.log_softmax(ova_logits.view(len(ova_logits), 2, -1), dim=1)


def ova_labelled_loss(ova_logits: torch.Tensor, labels: torch.Tensor, released_code: bool = False) -> torch.Tensor:
    """L_ova: mean of -log p(class y) + mean of max over j != y of -log p(not class j)."""
    if len(labels) == 0:
        return ova_logits.sum() * 0.0
    log_p = ova_log_probabilities(ova_logits, released_code)
    positive = -log_p[:, 1].gather(1, labels[:, None]).squeeze(1)
    negative = (-log_p[:, 0]).scatter(1, labels[:, None], float("-inf")).max(1).values
    return positive.mean() + negative.mean()


def ova_entropy(ova_logits: torch.Tensor, released_code: bool = False) -> torch.Tensor:
    """L_ent: binary entropy of each class's pair, mean over rows and classes."""
    if len(ova_logits) == 0:
        return ova_logits.sum() * 0.0
    return -(ova_probabilities(ova_logits) * ova_log_probabilities(ova_logits, released_code)).sum(1).mean()


def ova_consistency(ova_logits: torch.Tensor) -> torch.Tensor:
    """L_soc: the rows are view 1 then view 2 of the same images; mean over images of sum_j sum_pair (p - p')^2."""
    if len(ova_logits) == 0:
        return ova_logits.sum() * 0.0
    first, second = ova_probabilities(ova_logits).chunk(2)
    return (first - second).pow(2).sum((1, 2)).mean()


def certainty(ova_logits: torch.Tensor) -> torch.Tensor:
    """|2 u - 1|, u = p(not class ŷ) at ŷ = argmax_j p(class j); detached."""
    p = ova_probabilities(ova_logits.detach())
    top = p[:, 1].argmax(1, keepdim=True)
    return (2 * p[:, 0].gather(1, top).squeeze(1) - 1).abs()


def ova_knownness(ova_logits: torch.Tensor) -> torch.Tensor:
    """max_j p(class j): 1 - the release's unknown score."""
    return ova_probabilities(ova_logits)[:, 1].max(1).values


def debiased_pseudo_label_loss(debiased_logits: torch.Tensor, gcd_logits: torch.Tensor, weights: torch.Tensor,
                               threshold: float) -> torch.Tensor:
    """L_deb^U: mean over the rows of [max p >= τ] · weight · CE(debiased logits, argmax p), p the (detached)
    prediction of the GCD classifier; both logits already divided by their temperatures."""
    if len(debiased_logits) == 0:
        return debiased_logits.sum() * 0.0
    confidence, targets = F.softmax(gcd_logits.detach(), dim=1).max(1)
    selected = (confidence >= threshold).float()
    return (F.cross_entropy(debiased_logits, targets, reduction="none") * selected * weights).mean()


@METHODS.register("debgcd")
class DebGCD(SimGCD):
    Params = DebGCDParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        DebGCDParams, weights=("sup_weight", "memax_weight", "debias_weight", "detector_weight"),
        temperatures=("student_temperature",))
    name = "debgcd"
    budget_params = ("teacher_warmup_epochs",)
    profiles = {"cpu": {"budget": 16, "proj_hidden_dim": 512, "view_bank": 8},  # as simgcd
                "smoke": {"epochs": 1, "batch_size": 16, "teacher_warmup_epochs": 1, "proj_hidden_dim": 32}}
    version = 1
    summary = "DebGCD: SimGCD plus a debiased classifier on certainty-weighted pseudo-labels and an OVA detector"

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        inputs, network, stats = self._train(task)
        clusters, knownness, reference = {}, {}, {}
        network = network.cpu()
        for eval_set in task.prediction_sets:
            feats = torch.from_numpy(features_of(task, inputs.network, task.indices(eval_set)))
            with torch.no_grad():
                logits = network.prototypes(feats)
                ova = network.detector(feats) / p.detector_temperature
            clusters[eval_set] = logits.argmax(1).numpy()
            knownness[eval_set] = ova_knownness(ova).numpy()
            reference[eval_set] = known_mass(logits, task.n_known, p.student_temperature)
        return Predictions(clusters, knownness, "ova_detector_max_known_probability",
                           {"train": vars(stats), **inputs.record}, reference_knownness=reference,
                           reference_adapter="known_class_probability_mass")

    def _network(self, task: GCDTask, inputs: TrainingInput, k: int) -> SimGCDNetwork:
        p = self.params
        network = DebGCDNetwork(inputs.trained, task.backbone.feature_dim, k, task.n_known, p.proj_hidden_dim,
                                p.proj_out_dim, p.detector_layers)
        return self._with_addons(network, task, k)

    def _step(self, network: DebGCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        feats = network.backbone(batch.views)
        logits, loss, logs = self._simgcd_loss(network, batch, (network.projector(feats), network.prototypes(feats)))
        labelled = batch.is_labelled.repeat(2)
        labels = batch.labels.repeat(2)[labelled]
        ova = network.detector(feats) / p.detector_temperature
        detector_terms = {"ova": ova_labelled_loss(ova[labelled], labels, p.released_code),
                          "ova_entropy": ova_entropy(ova[~labelled], p.released_code),
                          "ova_consistency": ova_consistency(ova[~labelled])}
        detector = (detector_terms["ova"] + p.detector_entropy_weight * detector_terms["ova_entropy"]
                    + p.detector_consistency_weight * detector_terms["ova_consistency"])
        debiased = network.debiased(feats) / p.debias_temperature
        deb_labelled = (F.cross_entropy(debiased[labelled], labels) if labelled.any() else debiased.sum() * 0.0)
        deb_unlabelled = debiased_pseudo_label_loss(debiased[~labelled], logits[~labelled] / p.student_temperature,
                                                    certainty(ova[~labelled]), p.confidence_threshold)
        share = p.pseudo_label_share
        loss = (loss + p.detector_weight * detector
                + p.debias_weight * ((1 - share) * deb_labelled + share * deb_unlabelled))
        return loss, {**logs, **{k: v.item() for k, v in detector_terms.items()}, "deb_l": deb_labelled.item(),
                      "deb_u": deb_unlabelled.item()}

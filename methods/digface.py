"""DIG-FACE (Luo et al., arXiv 2409.20098): SimGCD plus implicit and explicit debiasing (methods/README.md, "DIG-FACE").

Architecture: backbone (last block trains) -> projector z (256-d) -> main cosine classifier on n(z) (released
architecture, D9; ``classifier_on="backbone"`` puts it on the normalised backbone feature as SimGCD does), and an
auxiliary "worst-case" head (Linear -> GELU -> Dropout 0.5 -> Linear) on GRL(z) for view-1 rows.

Objective (every weight is a parameter; 0 removes the term and skips computing it)::

    L = w_ce L_CE + w_distill L_dist + w_memax eps L_me + w_infonce L_InfoNCE + w_supcon L_SupCon
      + w_smoothing L_bal + w_worst_case L_wc + w_cluster [epoch >= 50] (w_wb L_WB + w_maxmin L_MaxMin)

with the paper's values 0.35, 0.65, 0.65 (eps 1), 0.65, 0.35, 0.3, 0.2, 0.2, 1.0, 0.1; L_CE, L_dist, L_me and the
contrastive pair as in SimGCD on the DIG-FACE head (temperatures 0.1 student, 0.07 -> 0.04 teacher, 1.0 InfoNCE,
0.07 SupCon), L_wc the DST worst-case estimation loss (eta' = 2) behind the gradient-reversal layer, L_bal the
class-adaptive label smoothing on the labelled logits, L_WB / L_MaxMin the within/between scatter ratio and the
max–min spread on the normalised projections of the labelled images. SGD (no decay on 1-D parameters), cosine
schedule, global gradient-norm clipping at 100. Predictions: argmax of the main classifier, last epoch.
Knownness: probability mass on the known classes (as SimGCD).

Paper mode (default) versus ``released_code=True`` (``Clarence-CV/G-FACE`` d88882b), term by term:

=================  ==========================================  ==========================================
term               paper mode                                  released_code=True
=================  ==========================================  ==========================================
L_wc (GRL)         lambda(t) = 0.2/(1+exp(-t/1000)) - 0.1,     lambda = 0: only the auxiliary head learns
                   t = global step: features maximise L_wc     from L_wc (D1)
L_bal smoothing    e = 0.1 (1 - t/T_tot), decays to 0          e = 0.1 constant (D2)
L_bal weights      class accuracy over classes present in the  absent classes get accuracy 0, hence almost
                   labelled batch; absent classes weight 0     all the smoothing mass (D3)
L_WB               rows are samples (pooled view means)        per-view means, n_c counts images (D6)
L_MaxMin           per-sample squared distance to the centre   squared differences summed over the view
                                                               axis, max/min over (image, feature) (D5)
L_me weight eps    1 (the scripts' value)                      2 (argument default; CLI ignored, D7)
=================  ==========================================  ==========================================

Both modes: L_cluster on labelled rows with ground truth (D4), L_wc on view 1 with eta' on the labelled part only
(D10), clipping at 100 (D11), labels re-indexed and the split taken from the protocol (D8, D12), evaluation fixed
and the last epoch reported (D14), everything seeded (D15). Crash-level defects are fixed, never reproduced.
Suite choices (both modes): an empty labelled or unlabelled part of a batch contributes zero to a term; L_WB is
zero when fewer than two classes are labelled in the batch (its between-class scatter would be 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least, require_steps
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import features_of, training_input
from benchmark.training.debias_losses import (class_adaptive_smoothing_loss, max_min_spread, smoothing_factor,
                                              within_between_ratio, worst_case_loss)
from benchmark.training.grl import reverse_gradient, warm_start_coefficient
from benchmark.training.knownness_scores import known_mass
from benchmark.training.heads import CosineLinear, ProjectionMLP, centre_inputs, scale_to_unit_norm
from benchmark.training.rebalance_addon import RebalanceAddon, check_inputs
from benchmark.training.losses import (cross_view_distillation, info_nce, mean_entropy_regulariser, supcon,
                                       teacher_temperature)
from benchmark.training.view_bank import check_view_bank, require_trunk
from benchmark.training.trainer import Batch, OptimConfig, fit
from benchmark.number_of_classes import require_k, require_k_given

CLASSIFIER_PLACEMENTS = ("projector", "backbone")
INIT_SAMPLE = 1024  # training images whose frozen features set the projector's initial scale


@dataclass
class DigFaceParams:
    released_code: bool = False  # reproduce the release where it deviates from the paper (module docstring)
    classifier_on: str = "projector"  # "projector" (released, D9) or "backbone" (SimGCD placement)
    epochs: int = at_least(200, 1)
    batch_size: int = at_least(128, 1)
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-5
    clip_grad_norm: float | None = 100.0
    ce_weight: float = 0.35
    distill_weight: float = 0.65
    memax_weight: float = 0.65  # multiplies memax_epsilon * L_me
    memax_epsilon: float | None = None  # None: 1 in paper mode, 2 in released-code mode (D7)
    infonce_weight: float = 0.65
    supcon_weight: float = 0.35
    smoothing_weight: float = 0.3
    worst_case_weight: float = 0.2
    cluster_weight: float = 0.2
    within_between_weight: float = 1.0
    max_min_weight: float = 0.1
    student_temperature: float = 0.1
    teacher_temperature_start: float = 0.07
    teacher_temperature_end: float = 0.04
    teacher_warmup_epochs: int = 30
    info_nce_temperature: float = 1.0
    supcon_temperature: float = 0.07
    eta_prime: float = 2.0
    smoothing_start: float = 0.1
    grl_high: float = 0.1
    grl_alpha: float = 1.0
    grl_max_iters: int = at_least(1000, 1)
    cluster_start_epoch: int = 50
    proj_hidden_dim: int = at_least(2048, 1)
    proj_out_dim: int = at_least(256, 1)
    aux_hidden_dim: int = at_least(2048, 1)
    aux_dropout: float = 0.5
    crop_pct: float = 0.875
    # stabilisers (suite deviations, methods/README.md "DIG-FACE"; False / 0 restores the paper and the release)
    centre_projector_input: bool = False  # the projector's first bias centres the frozen features at init
    unit_norm_projector: bool = True  # scale the projector's last layer so |z| has median 1 on the data at init
    aux_on_normalised: bool = True  # the worst-case head reads GRL(n(z)), bounded, instead of GRL(z)
    warmup_fraction: float = 0.1  # linear learning-rate warm-up over the first 10 % of the steps
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views
    rebalance: float = 0.0  # MEK add-on (training/rebalance_addon.py): > 0 replaces L_CE's one-hot targets with
    # re-balanced smooth labels and adds rebalance * 0.1 L_RAC; 0 = off

    def __post_init__(self) -> None:
        if self.classifier_on not in CLASSIFIER_PLACEMENTS:
            raise GFaceError(f"digface.classifier_on={self.classifier_on!r}: choose one of "
                             f"{', '.join(CLASSIFIER_PLACEMENTS)}")
        if self.rebalance and self.classifier_on != "backbone":
            raise GFaceError("digface.rebalance computes class activation maps with the classifier's prototypes on "
                             "the backbone's feature map; add --set digface.classifier_on=backbone")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise GFaceError(f"digface.warmup_fraction={self.warmup_fraction}: the warm-up is a fraction of all "
                             f"training steps, from 0 (none) up to but excluding 1, e.g. 0.1")
        check_view_bank(self.view_bank, "digface")
        check_inputs(self.rebalance, self.view_bank, "digface")


class DigFaceNetwork(nn.Module):
    """Backbone -> projector z and main cosine logits; the auxiliary head is applied by the training step."""

    def __init__(self, backbone: nn.Module, feature_dim: int, n_classes: int, p: DigFaceParams):
        super().__init__()
        self.backbone = backbone
        self.projector = ProjectionMLP(feature_dim, p.proj_hidden_dim, p.proj_out_dim)
        self.on_projector = p.classifier_on == "projector"
        self.classifier = CosineLinear(p.proj_out_dim if self.on_projector else feature_dim, n_classes)
        self.aux_head = nn.Sequential(nn.Linear(p.proj_out_dim, p.aux_hidden_dim), nn.GELU(),
                                      nn.Dropout(p.aux_dropout), nn.Linear(p.aux_hidden_dim, n_classes))
        for layer in self.aux_head:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)

    def heads(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.projector(feats)
        return z, self.classifier(z if self.on_projector else feats)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.backbone(x))


@METHODS.register("digface")
class DigFace(Method):
    Params = DigFaceParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        DigFaceParams, weights=("smoothing_weight", "worst_case_weight", "cluster_weight"),
        temperatures=("student_temperature",))
    # the GRL ramp scales with the budget too, else a short run would keep lambda near 0 (epoch-proportional: at 16
    # epochs 80 steps, 22 % of a synthface-v4-basic run against the release's 5 %; methods/README.md, DIG-FACE)
    budget_params = ("teacher_warmup_epochs", "cluster_start_epoch", "grl_max_iters")
    # cpu: SimGCD's; the budget from the learning curves (benchmark/budget.py)
    profiles = {"cpu": {"budget": 16, "proj_hidden_dim": 512, "view_bank": 8},
                "smoke": {"epochs": 1, "batch_size": 16, "teacher_warmup_epochs": 1, "cluster_start_epoch": 0,
                          "grl_max_iters": 20, "proj_hidden_dim": 32, "aux_hidden_dim": 32}}
    version = 2  # 2: stabilisers (unit-norm projector init, normalised worst-case input, lr warm-up)
    summary = "DIG-FACE: SimGCD with implicit (adversarial worst-case head) and explicit (3-level) debiasing"
    ablation_terms: ClassVar[dict[str, str]] = {
        "ce": "ce_weight", "distill": "distill_weight", "memax": "memax_weight", "infonce": "infonce_weight",
        "supcon": "supcon_weight", "smoothing": "smoothing_weight", "worst_case": "worst_case_weight",
        "cluster": "cluster_weight", "within_between": "within_between_weight", "max_min": "max_min_weight"}

    @property
    def memax_epsilon(self) -> float:
        eps = self.params.memax_epsilon
        return eps if eps is not None else (2.0 if self.params.released_code else 1.0)

    def check(self, shape: TaskShape) -> None:
        require_k_given(shape, "digface")
        require_steps(shape, self.params.batch_size, "digface")
        require_trunk(shape, self.params.view_bank, "digface")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        k = require_k(task, "digface")
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = DigFaceNetwork(inputs.trained, task.backbone.feature_dim, k, p)
        initial_norm = self._initialise_projector(network.projector, task)
        if p.rebalance:
            network.rebalance = RebalanceAddon(task.backbone, task.labelled_y, len(task.unlabelled_idx), k, "digface")
        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=False,
                                clip_grad_norm=p.clip_grad_norm, warmup_fraction=p.warmup_fraction),
                    task.work_dir, task.seed, task.device, desc="digface")
        network.eval()
        clusters, knownness = {}, {}
        for eval_set in task.prediction_sets:
            feats = torch.from_numpy(features_of(task, inputs.network, task.indices(eval_set)))
            with torch.no_grad():
                logits = network.heads(feats.to(task.device))[1].float().cpu()
            clusters[eval_set] = logits.argmax(1).numpy()
            knownness[eval_set] = known_mass(logits, task.n_known, p.student_temperature)
        mode = "released_code" if p.released_code else "paper"
        return Predictions(clusters, knownness, "known_class_probability_mass",
                           {"train": vars(stats), **inputs.record, "initial_projection_norm": initial_norm,
                            "mode": mode, "memax_epsilon": self.memax_epsilon})

    def _initialise_projector(self, projector: ProjectionMLP, task: GCDTask) -> float | None:
        """The data-dependent stabilisers, on the frozen features of up to ``INIT_SAMPLE`` training images (no
        labels read); returns the median |z| before the unit-norm scaling (None without it)."""
        p = self.params
        if not (p.centre_projector_input or p.unit_norm_projector):
            return None
        rows = np.concatenate([task.labelled_idx, task.unlabelled_idx])[:INIT_SAMPLE]
        sample = torch.from_numpy(task.frozen_features[rows])
        if p.centre_projector_input:
            centre_inputs(projector, sample)
        return scale_to_unit_norm(projector, sample) if p.unit_norm_projector else None

    def _step(self, network: DigFaceNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        z, logits = network(batch.views)
        n = len(batch.labels)
        labelled, labels = batch.is_labelled.repeat(2), batch.labels.repeat(2)
        scaled = logits / p.student_temperature
        grl = 0.0 if p.released_code else warm_start_coefficient(batch.step, 0.0, p.grl_high, p.grl_alpha,
                                                                 p.grl_max_iters)
        cluster_on = p.cluster_weight * (batch.epoch >= p.cluster_start_epoch)

        def labelled_projections() -> torch.Tensor:  # (N_L, 2, D), the [N_L, 2, 256] layout of the release
            unit = F.normalize(z, dim=1)
            return torch.stack([unit[:n][batch.is_labelled], unit[n:][batch.is_labelled]], dim=1)

        terms: dict[str, tuple[float, Callable[[], torch.Tensor]]] = {
            "ce": (p.ce_weight, lambda: network.rebalance.smooth_label_loss(scaled[labelled], labels[labelled])
                   if p.rebalance else F.cross_entropy(scaled[labelled], labels[labelled]) if labelled.any()
                   else logits.sum() * 0.0),
            "distill": (p.distill_weight, lambda: cross_view_distillation(
                logits, p.student_temperature, teacher_temperature(
                    batch.epoch, p.teacher_warmup_epochs, p.teacher_temperature_start, p.teacher_temperature_end))),
            "memax": (p.memax_weight * self.memax_epsilon,
                      lambda: mean_entropy_regulariser(logits, p.student_temperature)),
            "infonce": (p.infonce_weight, lambda: info_nce(z, p.info_nce_temperature)),
            "supcon": (p.supcon_weight, lambda: supcon(z[labelled], labels[labelled], p.supcon_temperature)),
            "smoothing": (p.smoothing_weight, lambda: class_adaptive_smoothing_loss(
                scaled[labelled], labels[labelled],
                smoothing_factor(batch.step, batch.total_steps, p.smoothing_start, p.released_code),
                p.released_code)),
            "worst_case": (p.worst_case_weight, lambda: worst_case_loss(
                network.aux_head(reverse_gradient(F.normalize(z[:n], dim=1) if p.aux_on_normalised else z[:n], grl)),
                logits[:n], batch.is_labelled, p.eta_prime)),
            "within_between": (cluster_on * p.within_between_weight, lambda: within_between_ratio(
                labelled_projections(), batch.labels[batch.is_labelled], p.released_code)),
            "max_min": (cluster_on * p.max_min_weight, lambda: max_min_spread(
                labelled_projections(), batch.labels[batch.is_labelled], p.released_code)),
            "rebalance": (p.rebalance, lambda: network.rebalance.attention_consistency(
                network.backbone, batch.views[:n], network.classifier.weight)),
        }
        if p.rebalance:
            network.rebalance.update_class_sizes(logits[~labelled].detach(), p.student_temperature)
        values = {name: compute() for name, (weight, compute) in terms.items() if weight}
        loss = sum((terms[name][0] * value for name, value in values.items()), logits.sum() * 0.0)
        return loss, {**{name: value.item() for name, value in values.items()}, "grl": grl}

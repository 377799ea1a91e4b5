"""LegoGCD (Cao et al., CVPR 2024): SimGCD plus LER and DKL against forgetting the known classes
(methods/README.md, "LegoGCD").

L = L_SimGCD + (1-λ) DKL + β L_LER. DKL = KL(p || p') between the student predictions (temperature 0.1) of an image's
two views, view 2 detached (the paper's Algorithm 1). LER: on unlabelled rows whose top student probability reaches δ
and whose top class is a known one, the cross-entropy between softmax(logits/τ_o) and softmax(logits/τ_o + λ_ler log
p̃), p̃ an exponential moving average of the batch-mean prediction (a buffer, so checkpoints keep it), averaged over
all 2B rows; its momentum keeps the release's horizon as a fraction of training (``time_constants``). Network, SimGCD terms, predictions and knownness are SimGCD's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from benchmark.budget import MOMENTUM, TimeConstant, time_constant_at, time_constant_record
from benchmark.core.registry import METHODS
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput
from benchmark.training.hyperbolic_head import check_head
from benchmark.training.rebalance_addon import check_inputs
from benchmark.method import Predictions
from benchmark.training.trainer import Batch
from benchmark.training.view_bank import check_view_bank
from methods.simgcd import SimGCD, SimGCDNetwork, SimGCDParams


@dataclass
class LegoGCDParams(SimGCDParams):
    confidence_threshold: float = 0.85  # δ; paper Tab. 7 (Stanford Cars, CIFAR100); release scripts 0.7-0.95
    ler_weight: float = 1.0  # β; paper Tab. 6 (CIFAR100; 2 on CUB); the release hard-codes 2
    ler_temperature: float = 0.05  # τ_o (paper Sec. 4.1)
    ler_margin: float = 0.4  # λ_ler of Δ_j = λ_ler log(1/p̃_j) (paper Eq. 10)
    prior_momentum: float = 0.999  # EMA of p̃ (release qhat_m) at the paper's 78,000 steps; kept as a fraction of training
    prior_temperature: float = 1.0  # p̃ averages softmax(logits / this) (release: the raw cosine logits)
    dkl_weight: float = 1.0  # DKL inside the (1-λ) unsupervised classification term (paper Eq. 12)
    released_code: bool = False  # DKL as the release computes it: log-softmax of probabilities, no detach

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "legogcd")
        check_inputs(self.rebalance, self.view_bank, "legogcd")
        check_head(self.head, self.rebalance, self.curvature, self.clip_radius, self.distance_weight_max, "legogcd")


def dual_view_kl(logits: torch.Tensor, temperature: float, released_code: bool = False) -> torch.Tensor:
    """DKL: mean over the B images of KL(p || p'), p and p' the predictions of view 1 and (detached) view 2.

    ``released_code``: the release's sum p (log_softmax(p) - log_softmax(p')) with p' not detached."""
    first, second = F.softmax(logits / temperature, dim=1).chunk(2)
    if released_code:
        return (first * (F.log_softmax(first, dim=1) - F.log_softmax(second, dim=1))).sum(1).mean()
    second = second.detach()
    return (first * (torch.log(first.clamp_min(1e-12)) - torch.log(second.clamp_min(1e-12)))).sum(1).mean()


def potential_known_mask(logits: torch.Tensor, is_labelled: torch.Tensor, n_known: int, temperature: float,
                         threshold: float) -> torch.Tensor:
    """o_i (paper Eq. 8): unlabelled, top probability of softmax(logits / temperature) >= threshold, top class known."""
    top_prob, top_class = F.softmax(logits.detach() / temperature, dim=1).max(1)
    return ~is_labelled & (top_prob >= threshold) & (top_class < n_known)


def local_entropy_regulariser(logits: torch.Tensor, selected: torch.Tensor, prior: torch.Tensor, temperature: float,
                              margin: float) -> torch.Tensor:
    """L_LER (paper Eq. 10): sum over selected rows of H(softmax(l/τ), softmax(l/τ + margin log prior)) / all rows."""
    target = F.softmax(logits / temperature, dim=1)
    log_pred = F.log_softmax(logits / temperature + margin * torch.log(prior), dim=1)
    return (-(target * log_pred).sum(1) * selected).mean()


@METHODS.register("legogcd")
class LegoGCD(SimGCD):
    Params = LegoGCDParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        LegoGCDParams, weights=("sup_weight", "memax_weight", "ler_weight", "dkl_weight"),
        temperatures=("student_temperature",))
    name = "legogcd"
    budget_params = ("teacher_warmup_epochs",)
    # CIFAR-100 (the δ and β above): 200 epochs x 390 steps (50,000 images // batch 128, drop_last)
    time_constants = (TimeConstant("prior_momentum", MOMENTUM, 200 * 390),)
    profiles = {"cpu": {"budget": 16, "proj_hidden_dim": 512, "view_bank": 8},  # as simgcd
                "smoke": {"epochs": 1, "batch_size": 16, "teacher_warmup_epochs": 1, "proj_hidden_dim": 32}}
    version = 2  # 2: the prior's EMA keeps its horizon as a fraction of training (benchmark/budget.py)
    summary = "LegoGCD: SimGCD plus local entropy regularisation of confident known-class samples and dual-view KL"

    def run(self, task: GCDTask) -> Predictions:
        predictions = super().run(task)
        steps = self.params.epochs * predictions.info["train"]["iterations_per_epoch"]
        predictions.info["time_constants"] = time_constant_record(type(self), self.params, steps)
        return predictions

    def _network(self, task: GCDTask, inputs: TrainingInput, k: int) -> SimGCDNetwork:
        network = super()._network(task, inputs, k)
        network.register_buffer("class_prior", torch.full((k,), 1.0 / k))
        network.n_known = task.n_known
        return network

    def _step(self, network: SimGCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        logits, loss, logs = self._simgcd_loss(network, batch)
        dkl = dual_view_kl(logits, p.student_temperature, p.released_code)
        selected = potential_known_mask(logits, batch.is_labelled.repeat(2), network.n_known,
                                        p.student_temperature, p.confidence_threshold)
        ler = local_entropy_regulariser(logits, selected, network.class_prior, p.ler_temperature, p.ler_margin)
        momentum = time_constant_at(type(self), "prior_momentum", p.prior_momentum, batch.total_steps)
        update_prior(network.class_prior, logits.detach(), p.prior_temperature, momentum)
        loss = loss + (1 - p.sup_weight) * p.dkl_weight * dkl + p.ler_weight * ler
        return loss, {**logs, "dkl": dkl.item(), "ler": ler.item(), "ler_rows": float(selected.sum())}


@torch.no_grad()
def update_prior(prior: torch.Tensor, logits: torch.Tensor, temperature: float, momentum: float) -> None:
    """p̃ <- momentum p̃ + (1 - momentum) mean softmax(logits / temperature), in place."""
    prior.mul_(momentum).add_(F.softmax(logits.float() / temperature, dim=1).mean(0), alpha=1 - momentum)

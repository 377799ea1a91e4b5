"""SelEx (Rastegar, Salehi, Asano, Doughty, Snoek, ECCV 2024): GCD with self-expertise (methods/README.md, "SelEx").

Before each epoch, hierarchical semi-supervised k-means on the fine-tuned features of D_L ∪ D_U gives pseudo-labels
at levels l = 0..L-1: level 0 has K clusters with the labelled classes fixed; each further level halves the known
and the new cluster counts, grouping the known clusters by k-means of their centres, until one known group is left.
Loss (1-λ) L_u + λ L_s / 2 on the L2-normalised head output z, similarities -||z_a - z_j||:
L_u (unsupervised self-expertise): InfoNCE whose target keeps 1-α on the other view and spreads α over the
negatives in proportion to Σ_l 2^-l [c_l(a) ≠ c_l(j)], so negatives of the anchor's own cluster get no target mass
and are pushed away hardest; L_s (supervised self-expertise): SupCon on the labelled rows plus, per level, SupCon
with the level's pseudo-labels on the first D / 2^(l+1) dimensions of z, weighted 2^-(l+1). Then GCD's
semi-supervised k-means on the fine-tuned backbone features (methods/gcd.py). ``head=hyperbolic``: HypCD's
head (Liu, He, Han, CVPR 2025; methods/README.md, "HypCD on SelEx"): the same losses on the head output mapped into
the Poincaré ball, with the geodesic distance ("distance" terms) and with the Euclidean distance of the ball points'
directions ("angle" terms, SelEx's own loss), mixed as (1 - α) L_angle + α L_distance, α rising over the run.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.clustering import KMeansConfig, kmeans, semi_supervised_kmeans
from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.features import l2_normalise
from benchmark.method import TaskShape, at_least
from benchmark.number_of_classes import require_k, require_k_given
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput, features_during_training
from benchmark.training.hyperbolic_head import ball_point, check_head, distance_weight
from benchmark.training.poincare import pairwise_distance
from benchmark.training.trainer import Batch, EpochStartFn, ViewFn
from benchmark.training.view_bank import check_view_bank
from methods.gcd import GCD, GCDNetwork, GCDParams


@dataclass
class SelExParams(GCDParams):
    unsupervised_smoothing: float = 0.1  # α; release README: 1 (CUB, Cars), 0.5 (Pets, Aircraft), 0.1 (generic)
    pseudo_label_iters: int = at_least(10, 1)  # per-epoch SS-k-means iterations, one start (release: 10, 1)
    released_code: bool = False  # L_u's target as the release computes it (methods/README.md, "SelEx")
    head: str = "cosine"  # "hyperbolic": HypCD's head (methods/README.md, "HypCD on SelEx"); the settings below
    curvature: float = 0.1  # c of the Poincaré ball (HypSelEx scripts, CUB/DINO; release default 0.05)
    clip_radius: float = 2.0  # feature clipping radius r (HypSelEx scripts, CUB/DINO; release default 0 = none)
    distance_weight_max: float = 1.0  # α_max of the distance terms (HypSelEx scripts, CUB/DINO: 1; Aircraft: 0.5)
    distance_ramp_fraction: float = 1.0  # α reaches α_max after this fraction of the epochs (release: 200 of 200)
    hyperbolic_released_code: bool = False  # angle terms on the raw ball points (release), not on their directions

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "selex")
        check_head(self.head, rebalance=0.0, curvature=self.curvature, clip_radius=self.clip_radius,
                   distance_weight_max=self.distance_weight_max, method_name="selex")
        if not 0.0 <= self.unsupervised_smoothing <= 1.0:
            raise GFaceError(f"selex.unsupervised_smoothing={self.unsupervised_smoothing}: the share of L_u's "
                             f"target spread over the negatives lies in [0, 1], e.g. 0.1")


@dataclass
class PseudoLabels:
    """Per level: the cluster of every training image (task-row order of ``rows``) and the cluster centres."""

    labels: list[np.ndarray]
    centres: list[np.ndarray]


def hierarchical_pseudo_labels(feats: np.ndarray, n_labelled: int, labelled_y: np.ndarray, n_known: int, k: int,
                               iters: int, seed: int) -> PseudoLabels:
    """Levels of semi-supervised k-means on L2-normalised ``feats`` (labelled rows first).

    Level 0: K clusters, labelled class c is cluster c. Level l+1: n_known and n_new halved (at least 1); the level-0
    known centres are grouped by k-means into n_known groups, the rows of a known level-0 cluster are fixed to its
    group, and semi-supervised k-means assigns the rest to n_known + n_new clusters. Stops after the level with one
    known group, or when too few rows are left to seed the new clusters."""
    level0 = semi_supervised_kmeans(feats[n_labelled:], KMeansConfig(k, 1, iters, seed=seed), feats[:n_labelled],
                                    labelled_y)
    first = np.concatenate([np.asarray(labelled_y, dtype=np.int64), level0.labels])
    result = PseudoLabels([first], [level0.centres])
    known_rows = first < n_known
    n_old, n_new = n_known, k - n_known
    while n_old > 1:
        n_old, n_new = max(n_old // 2, 1), max(n_new // 2, 1)
        if (~known_rows).sum() < n_new:
            break
        groups = kmeans(level0.centres[:n_known], KMeansConfig(n_old, 10, 300, seed=seed)).labels
        targets = groups[first[known_rows]]
        level = semi_supervised_kmeans(feats[~known_rows], KMeansConfig(n_old + n_new, 1, iters, seed=seed),
                                       feats[known_rows], targets)
        labels = np.empty(len(feats), dtype=np.int64)
        labels[known_rows], labels[~known_rows] = targets, level.labels
        result.labels.append(labels)
        result.centres.append(level.centres)
    return result


def hierarchical_confusion(levels: torch.Tensor) -> torch.Tensor:
    """(N, N): Σ_l 2^-l [c_l(a) ≠ c_l(j)] for levels (L, N) of pseudo-labels."""
    weights = 0.5 ** torch.arange(len(levels), dtype=torch.float32, device=levels.device)
    return ((levels[:, :, None] != levels[:, None, :]).float() * weights[:, None, None]).sum(0)


def released_confusion(raw_feats: torch.Tensor, levels: torch.Tensor, radii: list[torch.Tensor]) -> torch.Tensor:
    """The release's matrix (strategy ``zero_one``, Euclidean): Σ_l 2^-l [||f_a - f_j|| > 2 r_l(c_l(j))] on the raw
    backbone features, r_l(c) half the distance from centre c to its nearest other centre; min-max scaled over the
    matrix, then column j divided by the sum of row j (``C / C.sum(dim=1)`` broadcasts that way)."""
    pair = torch.cdist(raw_feats, raw_feats)
    confusion = sum((pair > 2 * radius[level][None, :]).float() / 2 ** i
                    for i, (level, radius) in enumerate(zip(levels, radii)))
    confusion = (confusion - confusion.min()) / (confusion.max() - confusion.min() + 1e-7)
    return confusion / confusion.sum(dim=1)


def centre_radii(centres: np.ndarray) -> torch.Tensor:
    """Half the distance from each centre to its nearest other centre."""
    c = torch.as_tensor(centres, dtype=torch.float32)
    distances = torch.cdist(c, c)
    return (distances + torch.eye(len(c)) * distances.max()).min(dim=1).values / 2


def other_view(n_rows: int, device: torch.device) -> torch.Tensor:
    """Index of each row's other view in a 2B-row batch."""
    half = n_rows // 2
    return torch.cat([torch.arange(half, n_rows), torch.arange(0, half)]).to(device)


def self_expertise_targets(confusion: torch.Tensor, alpha: float, released_code: bool = False) -> torch.Tensor:
    """L_u's (2B, 2B) target: 1-α on the other view, α spread over the negatives in proportion to ``confusion``
    (all on the other view where a row has no weighted negative); zero on the diagonal.

    ``released_code``: α times the release's confusion row as it is (the other view's entry included, rows not
    normalised) plus 1-α on the other view."""
    n = len(confusion)
    self_mask = torch.eye(n, dtype=torch.bool, device=confusion.device)
    positives = other_view(n, confusion.device)
    spread = confusion.masked_fill(self_mask, 0.0)
    if not released_code:
        spread = spread.scatter(1, positives[:, None], 0.0)
        totals = spread.sum(1, keepdim=True)
        spread = torch.where(totals > 0, spread / totals.clamp_min(1e-12), spread)
        alpha_rows = torch.where(totals[:, 0] > 0, alpha, 0.0)
    else:
        alpha_rows = torch.full((n,), alpha, device=confusion.device)
    targets = alpha_rows[:, None] * spread
    return targets.scatter_add(1, positives[:, None], (1.0 - alpha_rows)[:, None])


Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (n, D), (m, D) -> (n, m) pairwise distances


def unsupervised_self_expertise(z: torch.Tensor, targets: torch.Tensor, temperature: float,
                                distance: Distance = torch.cdist) -> torch.Tensor:
    """Cross-entropy of softmax over j ≠ a of -d(z_a, z_j) / τ against ``targets``, mean over the 2B rows."""
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = (-distance(z, z) / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = F.log_softmax(logits, dim=1).masked_fill(self_mask, 0.0)
    return -(targets * log_prob).sum(1).mean()


def distance_supcon(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.07, base_temperature: float = 0.07,
                    distance: Distance = torch.cdist) -> torch.Tensor:
    """Supervised contrastive loss with similarities -d(z_a, z_j) (the release's: Euclidean); zero without two
    rows."""
    if len(z) < 2:
        return z.sum() * 0.0
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = -distance(z, z) / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    log_prob = logits - torch.logsumexp(logits.masked_fill(self_mask, float("-inf")), dim=1, keepdim=True)
    mean_log_prob_pos = (log_prob * positive).sum(1) / positive.sum(1).clamp(min=1)
    return -(temperature / base_temperature) * mean_log_prob_pos.mean()


def supervised_self_expertise(z: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor, levels: torch.Tensor,
                              temperature: float, distance: Distance = torch.cdist) -> torch.Tensor:
    """SupCon on the labelled rows + Σ_l 2^-(l+1) SupCon(first D / 2^(l+1) dimensions of z, level-l labels)."""
    loss = distance_supcon(z[labelled], labels[labelled], temperature, distance=distance)
    for level, level_labels in enumerate(levels):
        dims = max(1, z.shape[1] // 2 ** (level + 1))
        loss = loss + distance_supcon(z[:, :dims], level_labels, temperature, distance=distance) / 2 ** (level + 1)
    return loss


@dataclass
class StepInputs:
    """What SelEx's loss needs of a step besides the embedding: L_u's targets, the labels, the labelled mask and
    the pseudo-labels (L, 2B), all over the 2B rows."""

    targets: torch.Tensor
    labels: torch.Tensor
    labelled: torch.Tensor
    levels: torch.Tensor


def self_expertise_loss(z: torch.Tensor, step: StepInputs, p: SelExParams,
                        distance: Distance = torch.cdist) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(1-λ) L_u + λ L_s / 2`` with the distance ``distance``, and its two terms."""
    unsup = unsupervised_self_expertise(z, step.targets, p.info_nce_temperature, distance)
    sup = supervised_self_expertise(z, step.labels, step.labelled, step.levels, p.supcon_temperature, distance)
    return (1 - p.sup_con_weight) * unsup + p.sup_con_weight * sup / 2, unsup, sup


def hyperbolic_self_expertise_loss(head_output: torch.Tensor, step: StepInputs, p: SelExParams,
                                   alpha: float) -> tuple[torch.Tensor, dict[str, float]]:
    """HypCD on SelEx: ``(1 - α) L_angle + α L_distance``, SelEx's loss on the ball points x of the head output with
    the geodesic distance d_c (distance) and with ||x̂_a - x̂_j|| of their directions (angle; equal to the cosine
    head's loss); ``hyperbolic_released_code``: the angle terms with ||x_a - x_j|| of the ball points themselves."""
    ball = ball_point(head_output, p.curvature, p.clip_radius)
    angle_points = ball if p.hyperbolic_released_code else F.normalize(ball, dim=-1)
    angle, unsup_angle, sup_angle = self_expertise_loss(angle_points, step, p)
    geodesic, unsup_dist, sup_dist = self_expertise_loss(ball, step, p, partial(pairwise_distance, c=p.curvature))
    logs = {"self_expertise_u_angle": unsup_angle, "self_expertise_s_angle": sup_angle,
            "self_expertise_u_dist": unsup_dist, "self_expertise_s_dist": sup_dist}
    return (1 - alpha) * angle + alpha * geodesic, {k: v.item() for k, v in logs.items()}


class RowsSeen:
    """The trainer's view maker, remembering the task rows of the batch it last made (the step's rows)."""

    def __init__(self, views: ViewFn):
        self.views, self.rows = views, np.zeros(0, dtype=np.int64)

    def __call__(self, rows: np.ndarray, generator: torch.Generator) -> torch.Tensor:
        self.rows = rows
        return self.views(rows, generator)


@METHODS.register("selex")
class SelEx(GCD):
    Params = SelExParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        SelExParams, weights=("sup_con_weight", "unsupervised_smoothing"), temperatures=("supcon_temperature",))
    name = "selex"
    profiles = {"cpu": {"budget": 16, "batch_size": 128, "head_hidden_dim": 512, "head_out_dim": 4096,
                        "n_init": 10, "k_max": 60, "view_bank": 8},  # as gcd
                "smoke": {"epochs": 1, "batch_size": 16, "head_hidden_dim": 32, "head_out_dim": 64, "n_init": 2,
                          "k_max": 60, "pseudo_label_iters": 3}}
    version = 1
    later_params = {"head": "cosine", "curvature": 0.1, "clip_radius": 2.0, "distance_weight_max": 1.0,
                    "distance_ramp_fraction": 1.0,
                    "hyperbolic_released_code": False}  # HypCD's head came after the committed runs
    summary = "SelEx: GCD with hierarchical pseudo-labels and supervised and unsupervised self-expertise"

    def check(self, shape: TaskShape) -> None:
        super().check(shape)
        require_k_given(shape, self.name)  # the per-epoch pseudo-labels need K

    def _training_hooks(self, task: GCDTask, inputs: TrainingInput) -> tuple[ViewFn, EpochStartFn]:
        """Views that remember their rows (the step looks up their pseudo-labels) and the per-epoch clustering."""
        self._task, self._k = task, require_k(task, self.name)
        self._rows = np.concatenate([task.labelled_idx, task.unlabelled_idx])
        self._features = features_during_training(task, inputs, self._rows)
        self._slot = np.full(len(task.images), -1, dtype=np.int64)
        self._slot[self._rows] = np.arange(len(self._rows))
        self._seen = RowsSeen(inputs.views)
        return self._seen, self._epoch_start

    def _epoch_start(self, network: GCDNetwork, epoch: int) -> None:
        """This epoch's pseudo-labels from the current backbone (a function of the model and the epoch)."""
        task, p = self._task, self.params
        feats = l2_normalise(self._features())
        pseudo = hierarchical_pseudo_labels(feats, len(task.labelled_idx), task.labelled_y, task.n_known, self._k,
                                            p.pseudo_label_iters, seed=(task.seed * 1000 + epoch) % 2 ** 32)
        self._levels = torch.as_tensor(np.stack(pseudo.labels))
        self._radii = [centre_radii(c) for c in pseudo.centres]

    def _step(self, network: GCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        feats = network.backbone(batch.views)
        head_output = network.head(feats)
        step = self._step_inputs(feats, batch)
        if p.head == "hyperbolic":
            alpha = distance_weight(batch.epoch, p.epochs, p.distance_ramp_fraction, p.distance_weight_max)
            return hyperbolic_self_expertise_loss(head_output, step, p, alpha)
        loss, unsup, sup = self_expertise_loss(F.normalize(head_output, dim=-1), step, p)
        return loss, {"self_expertise_u": unsup.item(), "self_expertise_s": sup.item()}

    def _step_inputs(self, feats: torch.Tensor, batch: Batch) -> StepInputs:
        """The batch's pseudo-labels (looked up through the rows the view maker last made) and L_u's targets."""
        p = self.params
        slots = torch.as_tensor(self._slot[self._seen.rows])
        levels = self._levels[:, slots].repeat(1, 2).to(feats.device)
        with torch.no_grad():
            if p.released_code:
                confusion = released_confusion(feats.detach().float(), levels,
                                               [r.to(feats.device) for r in self._radii])
            else:
                confusion = hierarchical_confusion(levels)
            targets = self_expertise_targets(confusion, p.unsupervised_smoothing, p.released_code)
        return StepInputs(targets, batch.labels.repeat(2), batch.is_labelled.repeat(2), levels)

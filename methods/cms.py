"""CMS (Choi, Kang, Cho, CVPR 2024): contrastive mean-shift learning, then iterative mean shift and agglomerative
clustering (methods/README.md, "CMS").

Embedding: the L2-normalised output of a DINO-style head (768-d) on the backbone; only the backbone's last block and
the head train. Each training view takes one mean-shift step, ``(1 - α) v + α mean(k nearest memory embeddings)``
(α = 0.5, k = 8), with a memory of two augmented views of every training image embedded at the start of each
epoch. Loss: (1 - λ) L_CMS(mean-shifted views, τ = 0.25) + λ SupCon(labelled views, τ = 0.07), λ = 0.35; L_CMS as
the release computes it by default, plain InfoNCE in paper mode (``released_code=false``).
Inference: K given, or estimated by Ward agglomerative clustering scored on D_L; then repeated mean-shift steps over
D_L ∪ D_U, each followed by Ward clustering into K clusters, until the Hungarian accuracy on D_L stops rising.
Test rows shift towards the training embeddings and take the nearest cluster mean. Model selection: last epoch.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

import joblib
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.cluster import AgglomerativeClustering
from torch import nn

from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.core.scorer import cluster_accuracy
from benchmark.features import l2_normalise, max_cosine
from benchmark.method import Method, Predictions, TaskShape, at_least, require_steps
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import features_of, training_input
from benchmark.training.heads import DINOHead
from benchmark.training.losses import info_nce, supcon
from benchmark.training.trainer import Batch, OptimConfig, ViewFn, fit
from benchmark.training.view_bank import check_view_bank, require_trunk

MAX_CLUSTERED_IMAGES = 60_000  # Ward linkage keeps N(N-1)/2 float64 distances (the release's largest set: 50,000)
RELEASE_BLOCK = 128  # the release's inference batch size: its in-place mean-shift steps go block by block


@dataclass
class CMSParams:
    epochs: int = at_least(200, 1)
    batch_size: int = at_least(128, 1)
    lr: float = 0.05  # fine-grained benchmarks (the release's scripts; 0.01 on CIFAR-100 / ImageNet-100)
    min_lr_ratio: float = 5e-3  # cosine schedule to lr x 5e-3 (fine-grained scripts; 1e-3 otherwise)
    momentum: float = 0.9
    weight_decay: float = 5e-5
    sup_con_weight: float = 0.35
    temperature: float = 0.25  # contrastive mean-shift loss (fine-grained scripts; 0.3 otherwise)
    supcon_temperature: float = 0.07
    alpha: float = 0.5  # weight of the neighbours' mean in one mean-shift step
    n_neighbours: int = at_least(8, 1)  # k of the kNN kernel
    head_hidden_dim: int = at_least(2048, 1)
    head_bottleneck_dim: int = at_least(256, 1)
    head_out_dim: int = at_least(768, 1)
    crop_pct: float = 0.875
    view_bank: int = 0  # V > 0: two of V stored trunk outputs per image (training/view_bank.py); 0: fresh views
    mean_shift_rounds: int = at_least(20, 1)  # clusterings after 0, 1, ... mean-shift steps at inference, at most
    mean_shift_patience: int = at_least(2, 1)  # stop after this many rounds without a higher D_L accuracy
    k_patience: int = at_least(50, 1)  # K search (k_given: false): stop after this many k without a better score
    released_code: bool = True  # the release's loss (negatives-only denominator, detached norm) and in-place steps;
    # false: paper mode (InfoNCE with the positive in the denominator, synchronous inference steps)

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "cms")
        if not 0.0 <= self.alpha <= 1.0:
            raise GFaceError(f"cms.alpha={self.alpha}: a mean-shift step mixes an embedding with its neighbours' "
                             f"mean, so alpha must lie in [0, 1]; e.g. --set cms.alpha=0.5")


class CMSNetwork(nn.Module):
    """Backbone -> DINO-style head -> L2 normalisation; ``memory`` holds the epoch's embeddings (a plain attribute:
    rebuilt from the model at every epoch start, never checkpointed)."""

    def __init__(self, backbone: nn.Module, feature_dim: int, p: CMSParams):
        super().__init__()
        self.backbone = backbone
        self.head = DINOHead(feature_dim, p.head_hidden_dim, p.head_bottleneck_dim, p.head_out_dim)
        self.memory: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.backbone(x)), dim=1)


def knn_mean(queries: torch.Tensor, memory: torch.Tensor, k: int, skip_nearest: bool,
             block: int = 1024) -> torch.Tensor:
    """Mean of the ``k`` memory rows most similar (dot product) to each query; ``skip_nearest`` leaves out the most
    similar one (the query itself when it is in the memory, as the release does)."""
    skip = int(skip_nearest)
    means = []
    for part in queries.split(block):
        nearest = (part @ memory.T).topk(k + skip, dim=1).indices[:, skip:]
        means.append(memory[nearest].mean(1))
    return torch.cat(means)


def mean_shift(v: torch.Tensor, neighbour_mean: torch.Tensor, alpha: float) -> torch.Tensor:
    """One step of mean shift with the kNN kernel: ``(1 - α) v + α mean(kNN)`` (not normalised)."""
    return (1 - alpha) * v + alpha * neighbour_mean


def released_mean_shift_loss(shifted: torch.Tensor, temperature: float) -> torch.Tensor:
    """The release's contrastive mean-shift loss on 2B rows (view 1 of every image, then view 2): rows divided by
    their *detached* norm; the other view is the positive and the denominator sums over the 2B - 2 negatives only."""
    z = shifted / shifted.norm(dim=1, keepdim=True).detach()
    n = z.shape[0] // 2
    logits = (z @ z.T) / temperature
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    rows = torch.arange(2 * n, device=z.device)
    not_negative = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    not_negative[rows, partner] = True
    log_denominator = torch.logsumexp(logits.masked_fill(not_negative, float("-inf")), dim=1)
    return (log_denominator - logits[rows, partner]).mean()


def shift_step(train: torch.Tensor, k: int, alpha: float, in_place_blocks: int = 0) -> torch.Tensor:
    """One synchronous mean-shift step of every training embedding over all of them, L2-normalised.

    ``in_place_blocks`` > 0: the release's step from its second one on, where the shifted rows overwrite the
    embeddings block by block, so later blocks find their neighbours among already shifted, unnormalised rows."""
    if not in_place_blocks:
        return F.normalize(mean_shift(train, knn_mean(train, train, k, skip_nearest=True), alpha), dim=1)
    current = train.clone()
    for start in range(0, len(current), in_place_blocks):
        rows = slice(start, start + in_place_blocks)
        current[rows] = mean_shift(current[rows], knn_mean(current[rows], current, k, skip_nearest=True), alpha)
    return F.normalize(current, dim=1)


def ward_clusters(embeddings: np.ndarray, n_clusters: int, memory: joblib.Memory | None = None) -> np.ndarray:
    """Ward agglomerative clustering into ``n_clusters`` (scikit-learn; ``memory`` caches the full tree so that
    several cuts of the same embeddings build it once)."""
    model = AgglomerativeClustering(n_clusters=n_clusters, linkage="ward", memory=memory,
                                    compute_full_tree=True if memory is not None else "auto")
    return model.fit_predict(embeddings)


def estimate_k_agglomerative(embeddings: np.ndarray, labelled_positions: np.ndarray, labelled_y: np.ndarray,
                             n_known: int, patience: int) -> tuple[int, dict[int, float]]:
    """K as CMS estimates it: cut one Ward tree into k = K_old + 1, K_old + 2, ... clusters, score each cut by the
    Hungarian accuracy of the labelled rows, stop after ``patience`` cuts without a higher score; the first k with
    the highest score wins. Returns it and every ``{k: accuracy}``."""
    scores: dict[int, float] = {}
    best_k, best, waited = n_known + 1, -1.0, 0
    with tempfile.TemporaryDirectory(prefix="cms-ward-") as cache:
        memory = joblib.Memory(cache, verbose=0)
        for k in range(n_known + 1, len(embeddings) + 1):
            labels = ward_clusters(embeddings, k, memory)
            scores[k] = cluster_accuracy(labelled_y, labels[labelled_positions])
            if scores[k] > best:
                best_k, best, waited = k, scores[k], 0
            else:
                waited += 1
                if waited >= patience:
                    break
    return best_k, scores


@dataclass
class MeanShiftResult:
    step: int  # mean-shift steps of the selected round
    train: np.ndarray  # embeddings of D_L then D_U at that step
    test: np.ndarray  # test embeddings shifted as often
    labels: np.ndarray  # Ward clusters of ``train``
    scores: dict[int, float]  # D_L accuracy of every round


def iterative_mean_shift(train: torch.Tensor, test: torch.Tensor, labelled_y: np.ndarray, n_clusters: int,
                         p: CMSParams) -> MeanShiftResult:
    """CMS inference: cluster after 0, 1, 2, ... mean-shift steps; keep the round with the highest Hungarian accuracy
    on the labelled rows (the first ``len(labelled_y)`` of ``train``; a tie moves to the later round) and stop after
    ``mean_shift_patience`` rounds without a strictly higher one. Test rows shift towards the training embeddings."""
    labelled = np.arange(len(labelled_y))
    scores: dict[int, float] = {}
    best: MeanShiftResult | None = None
    waited = 0
    for step in range(p.mean_shift_rounds):
        if step:
            test = F.normalize(mean_shift(test, knn_mean(test, train, p.n_neighbours, skip_nearest=False), p.alpha),
                               dim=1)
            in_place = RELEASE_BLOCK if p.released_code and step >= 2 else 0
            train = shift_step(train, p.n_neighbours, p.alpha, in_place)
        labels = ward_clusters(train.numpy(), n_clusters)
        scores[step] = cluster_accuracy(labelled_y, labels[labelled])
        waited = 0 if best is None or scores[step] > scores[best.step] else waited + 1
        if best is None or scores[step] >= scores[best.step]:
            best = MeanShiftResult(step, train.numpy(), test.numpy(), labels, scores)
        if waited >= p.mean_shift_patience:
            break
    return best


def cluster_means(embeddings: np.ndarray, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """(n_clusters, D) mean embedding of each cluster id 0..n_clusters-1."""
    sums = np.zeros((n_clusters, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings)
    return (sums / np.maximum(np.bincount(labels, minlength=n_clusters), 1)[:, None]).astype(np.float32)


@torch.no_grad()
def embed_views(network: CMSNetwork, make_views: ViewFn, rows: np.ndarray, generator: torch.Generator,
                chunk: int = 256) -> torch.Tensor:
    """Embeddings of two augmented views of every row (eval mode), as the release's per-epoch memory."""
    network.eval()
    return torch.cat([network(make_views(rows[start:start + chunk], generator)).float()
                      for start in range(0, len(rows), chunk)])


@METHODS.register("cms")
class CMS(Method):
    Params = CMSParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        CMSParams, weights=("sup_con_weight", "alpha"), temperatures=("temperature", "supcon_temperature"))
    # cpu: the budget rule's epochs, SimGCD's head width and view bank (benchmark/budget.py)
    profiles = {"cpu": {"budget": 16, "batch_size": 128, "head_hidden_dim": 512, "view_bank": 8},
                "smoke": {"epochs": 1, "batch_size": 16, "head_hidden_dim": 32, "head_bottleneck_dim": 16,
                          "head_out_dim": 32, "mean_shift_rounds": 3}}
    summary = "CMS: contrastive learning on mean-shifted embeddings, then iterative mean shift and Ward clustering"
    version = 1  # the default mode changed in round 5 (a parameter, so new run ids); neither mode's code did

    def check(self, shape: TaskShape) -> None:
        p = self.params
        require_steps(shape, p.batch_size, "cms")
        require_trunk(shape, p.view_bank, "cms")
        n_train = shape.n_labelled + shape.n_unlabelled
        if p.n_neighbours >= n_train:
            raise GFaceError(f"cms.n_neighbours={p.n_neighbours}: protocol {shape.protocol_id!r} has {n_train} "
                             f"training images, and a mean-shift step needs that many neighbours besides the image "
                             f"itself; lower it, e.g. --set cms.n_neighbours={max(1, n_train // 4)}")
        if n_train > MAX_CLUSTERED_IMAGES:
            raise GFaceError(f"cms: protocol {shape.protocol_id!r} has {n_train} training images; Ward clustering "
                             f"stores N^2/2 distances and is offered up to {MAX_CLUSTERED_IMAGES} images; use a "
                             f"smaller protocol")
        k_low = shape.n_known + 1 if shape.n_classes is None else shape.n_classes
        if k_low > n_train:
            raise GFaceError(f"cms: {k_low} clusters cannot be made from the {n_train} training images of protocol "
                             f"{shape.protocol_id!r}; use a protocol with more images")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        inputs = training_input(task, p.crop_pct, p.view_bank)
        network = CMSNetwork(inputs.trained, task.backbone.feature_dim, p)
        train_rows = np.concatenate([task.labelled_idx, task.unlabelled_idx])

        def refresh_memory(model: CMSNetwork, epoch: int) -> None:  # fit's epoch_start: exact on resume
            generator = torch.Generator().manual_seed(task.seed * 1_000_003 + epoch)
            model.memory = embed_views(model, inputs.views, train_rows, generator)

        stats = fit(network, self._step, inputs.views, task.labelled_idx, task.labelled_y, task.unlabelled_idx,
                    OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=True,
                                min_lr_ratio=p.min_lr_ratio),
                    task.work_dir, task.seed, task.device, desc="cms", epoch_start=refresh_memory)
        network.memory = None
        inductive = task.inductive_sets
        inductive_rows = [task.indices(s) for s in inductive]
        train, held_out = (self._embed(task, network, inputs.network, rows)
                           for rows in (train_rows, np.concatenate(inductive_rows)))
        k, k_scores = self._number_of_classes(task, train.numpy())
        result = iterative_mean_shift(train, held_out, task.labelled_y, k, p)
        n_l = len(task.labelled_idx)
        centres = l2_normalise(cluster_means(result.train, result.labels, k))
        set_embeddings = {"unlabelled_train": result.train[n_l:],
                          **dict(zip(inductive, np.split(result.test,
                                                         np.cumsum([len(r) for r in inductive_rows])[:-1])))}
        clusters = {s: result.labels[n_l:] if s == "unlabelled_train" else
                    np.argmax(set_embeddings[s] @ centres.T, axis=1) for s in task.prediction_sets}
        known_centres = cluster_means(result.train[:n_l], task.labelled_y, task.n_known)
        knownness = {s: max_cosine(set_embeddings[s], known_centres) for s in task.prediction_sets}
        return Predictions(clusters, knownness, "max_cosine_to_labelled_class_means",
                           {"train": vars(stats), **inputs.record, "k_used": k, "k_estimates": k_scores,
                            "mean_shift_steps": result.step,
                            "mean_shift_scores": {str(step): acc for step, acc in result.scores.items()}},
                           k_estimated=k if k_scores else None)

    def _step(self, network: CMSNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        z = network(batch.views)
        memory = network.memory.to(z.dtype)
        shifted = mean_shift(z, knn_mean(z.detach(), memory, p.n_neighbours, skip_nearest=True), p.alpha)
        unsup = (released_mean_shift_loss(shifted, p.temperature) if p.released_code
                 else info_nce(shifted, p.temperature))
        labelled = batch.is_labelled.repeat(2)
        sup = supcon(z[labelled], batch.labels.repeat(2)[labelled], p.supcon_temperature)
        loss = (1 - p.sup_con_weight) * unsup + p.sup_con_weight * sup
        return loss, {"meanshift_nce": unsup.item(), "supcon": sup.item()}

    @staticmethod
    @torch.no_grad()
    def _embed(task: GCDTask, network: CMSNetwork, backbone_copy: nn.Module, rows: np.ndarray) -> torch.Tensor:
        """L2-normalised head output of the test-transform features of ``rows`` (CPU, float32)."""
        feats = torch.from_numpy(features_of(task, backbone_copy, rows))
        head = network.head.eval().cpu()
        return F.normalize(head(feats), dim=1)

    def _number_of_classes(self, task: GCDTask, train: np.ndarray) -> tuple[int, dict]:
        if task.n_classes is not None:
            return task.n_classes, {}
        k, scores = estimate_k_agglomerative(train, np.arange(len(task.labelled_idx)), task.labelled_y,
                                             task.n_known, self.params.k_patience)
        return k, {str(key): value for key, value in sorted(scores.items())}

"""Open-Set-FER (Zhang et al., AAAI 2024, arXiv 2401.12507; methods/README.md, "Open-Set-FER"): open-set detection as
noisy-label detection.

A. A closed-set model on D_L (as ``msp``: cross-entropy, Adam 1e-3, decay 0.9 per epoch, 60 epochs, batch 512).
B. Its argmax over the known classes pseudo-labels every image the method scores (D_U and test).
C. A detector, a network separate from the closed-set model (``detector_backbone``: another registered backbone, as
   the release pairs a ResNet-18 closed model with a separately pretrained ResNet-50 detector; empty: a second copy
   of the task's backbone), last block trainable, with a linear head, learns the pseudo-labels with
   flip attention consistency: ``CE(f(x), y^) + 6 mean_{n,k} d_{n,k}`` (benchmark/README.md, "Training library") on an
   erased view and its exact horizontal flip; Adam 1e-4, weight decay 1e-4, batch 128, 30 epochs. The open-class
   images carry near-random pseudo-labels that the consistency keeps it from memorising.
D. Knownness ``s(x) = -CE(f(x), y^(x))`` from the detector in eval mode, deterministic test transform. The
   maximum softmax probability of the closed-set model of stage A is reported beside it as the reference score
   (``Predictions.reference_knownness``): the baseline of the same model that the detector should beat.

Cycle training (paper; ``released_code=False``, the default; the details are this suite's reading of the paper):
two detectors train in ``cycles`` cosine learning-rate cycles of ``detector_epochs / cycles`` epochs; after
each cycle each ranks the training images by its loss and hands the ``1 - rho`` fraction with the smallest loss to
the other for the next cycle (co-teaching), rho ramping linearly from 0 to ``forget_rate`` at the last cycle
(``forget_rate=None``: the high-loss fraction that a two-component Gaussian mixture finds after the first cycle);
the score averages -CE over both detectors and every cycle's snapshot. ``released_code=True`` is the release: one
detector, ``detector_epochs`` epochs with exponential decay 0.9, no cycles.

Detector data: ``pool`` (paper, transductive) = every scored image with its pseudo-label; ``train`` (suite
option) = D_L with its labels and D_U with pseudo-labels, the test split then scored inductively.
Predictions (suite design; methods/README.md, "Open-Set-FER"): images in the high-loss component of a
two-component Gaussian mixture on the detector loss are clustered into K_new clusters (k-means on the detector's
L2-normalised features); the others keep their pseudo-label (class index, so closed-set accuracy is scored too).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.mixture import GaussianMixture

from benchmark.clustering import KMeansConfig, kmeans
from benchmark.core.errors import GFaceError
from benchmark.features import l2_normalise
from benchmark.core.backbone import Backbone
from benchmark.core.registry import BACKBONES, METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.attention_consistency import attention_consistency, class_activation_maps, flip_discrepancy
from benchmark.training.closed_set import NO_ROWS, ClosedSetNetwork, features_and_logits, train_closed_set_model
from benchmark.training.flip_views import erased_view_maker
from benchmark.training.trainer import Batch, OptimConfig, fit, image_views
from benchmark.number_of_classes import require_k, require_k_given

DETECTOR_DATA = ("pool", "train")


@dataclass
class OpenSetFERParams:
    released_code: bool = False  # True: one detector, no cycle training (the release)
    epochs: int = at_least(60, 1)  # stage A, the closed-set model
    batch_size: int = at_least(512, 1)
    lr: float = 1e-3
    weight_decay: float = 1e-4  # both stages
    lr_decay: float = 0.9  # exponential, per epoch: stage A, and the detector in released-code mode
    crop_pct: float = 1.0
    erase_p: float = 0.5
    detector_data: str = "pool"  # "pool" (paper) or "train" (D_L labelled + D_U pseudo-labelled)
    detector_epochs: int = at_least(30, 1)
    detector_batch_size: int = at_least(128, 1)
    detector_lr: float = 1e-4
    consistency_weight: float = 6.0
    cycles: int = at_least(3, 1)  # paper mode: cosine cycles, one snapshot each (the paper gives no number; suite choice)
    forget_rate: float | None = None  # rho_max of the co-teaching exchange; None = estimated after cycle 1
    kmeans_n_init: int = at_least(10, 1)
    detector_backbone: str = ""  # a registered backbone for the detector; "" = a copy of the task's backbone

    def __post_init__(self) -> None:
        if self.detector_data not in DETECTOR_DATA:
            raise GFaceError(f"openset-fer.detector_data={self.detector_data!r}: choose one of "
                             f"{', '.join(DETECTOR_DATA)}")
        if not self.released_code and not 1 <= self.cycles <= self.detector_epochs:
            raise GFaceError(f"openset-fer: cycles={self.cycles} must be between 1 and detector_epochs="
                             f"{self.detector_epochs} (each cycle trains detector_epochs / cycles epochs)")
        if self.forget_rate is not None and not 0 <= self.forget_rate < 1:
            raise GFaceError(f"openset-fer.forget_rate={self.forget_rate} must be in [0, 1), or none to estimate it")


@METHODS.register("openset-fer")
class OpenSetFER(Method):
    Params = OpenSetFERParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        OpenSetFERParams, rates=("lr", "detector_lr"), weights=("consistency_weight",))
    budget_params = ("detector_epochs",)
    version = 2  # 2: separate detector backbone (cpu), the closed model's MSP as reference score
    # cpu: the detector on the seed-1 twin of synthface-cnn (embedded protocols; methods/README.md, "Open-Set-FER")
    profiles = {"cpu": {"budget": 16, "batch_size": 128, "cycles": 2, "detector_backbone": "synthface-cnn-seed1"},
                "smoke": {"epochs": 1, "batch_size": 16, "detector_epochs": 2, "cycles": 2,
                          "detector_batch_size": 16, "kmeans_n_init": 2}}
    summary = "Open-Set-FER: closed-set pseudo-labels, attention-consistent detectors (cycle training), -CE score"

    def extra_backbones(self) -> tuple[str, ...]:
        return (self.params.detector_backbone,) if self.params.detector_backbone else ()

    def check(self, shape: TaskShape) -> None:
        require_k_given(shape, "openset-fer")
        name = self.params.detector_backbone
        if name and name not in BACKBONES.names():
            raise GFaceError(f"openset-fer.detector_backbone={name!r} is not a registered backbone; choose one of "
                             f"{', '.join(BACKBONES.names())}, or '' for a copy of the task's backbone")

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        n_new = require_k(task, "openset-fer") - task.n_known
        closed, closed_stats = train_closed_set_model(task, p, Path(task.work_dir) / "closed-set",
                                                      "openset-fer closed-set")
        pool = np.unique(np.concatenate([task.indices(s) for s in task.prediction_sets]))
        needed = np.union1d(pool, task.unlabelled_idx)
        closed_logits = features_and_logits(task, closed, needed)[1]
        pseudo = closed_logits.argmax(1).numpy()
        closed_msp = F.softmax(closed_logits, dim=1).max(1).values.numpy()

        def pseudo_of(rows: np.ndarray) -> np.ndarray:
            return pseudo[np.searchsorted(needed, rows)]

        if p.detector_data == "pool":
            train_rows, targets = pool, pseudo_of(pool)
        else:
            train_rows = np.concatenate([task.labelled_idx, task.unlabelled_idx])
            targets = np.concatenate([task.labelled_y, pseudo_of(task.unlabelled_idx)])
        detector_backbone = self._detector_backbone(task)
        losses, feats, info = self._detect(task, detector_backbone, train_rows, targets, pool, pseudo_of(pool))
        is_open = high_loss_component(losses)
        clusters = pseudo_of(pool).copy()
        if n_new and is_open.any():
            result = kmeans(l2_normalise(feats[is_open]),
                            KMeansConfig(min(n_new, int(is_open.sum())), p.kmeans_n_init, seed=0))
            clusters[is_open] = task.n_known + result.labels
        at = {s: np.searchsorted(pool, task.indices(s)) for s in task.prediction_sets}
        return Predictions({s: clusters[at[s]] for s in task.prediction_sets}, {s: -losses[at[s]] for s in task.prediction_sets},
                           "negative_detector_cross_entropy",
                           {"train": {"closed_set": vars(closed_stats), **info},
                            "mode": "released_code" if p.released_code else "paper",
                            "detector_backbone": detector_backbone.name,
                            "high_loss_fraction": float(is_open.mean())},
                           closed_set=True,
                           reference_knownness={s: closed_msp[np.searchsorted(needed, task.indices(s))]
                                                for s in task.prediction_sets},
                           reference_adapter="closed_model_max_softmax_probability")

    def _detect(self, task: GCDTask, backbone: Backbone, train_rows, targets, pool,
                pool_pseudo) -> tuple[np.ndarray, np.ndarray, dict]:
        """Stages C-D: per-pool-image detector loss (averaged over detectors and snapshots), detector features."""
        p = self.params
        views = image_views(task.images, task.device,
                            erased_view_maker(backbone, p.crop_pct, p.erase_p, with_flip=True))
        work = Path(task.work_dir)

        def train(network, keep, epochs, lr_decay, folder, seed):
            optim = OptimConfig(epochs, min(p.detector_batch_size, len(keep)), p.detector_lr, momentum=0.0,
                                weight_decay=p.weight_decay, decay_1d=True, optimizer="adam", lr_decay=lr_decay)
            return vars(fit(network, self._step, views, train_rows[keep], targets[keep], NO_ROWS, optim,
                            work / folder, seed, task.device, desc=f"openset-fer {folder}"))

        everything = np.arange(len(train_rows))
        if p.released_code:
            detector = self._detector(backbone, task.n_known)
            stats = train(detector, everything, p.detector_epochs, p.lr_decay, "detector", task.seed + 1)
            feats, logits = features_and_logits(task, detector, pool, backbone)
            return per_sample_ce(logits, pool_pseudo), feats, {"detector": stats}
        detectors = [self._detector(backbone, task.n_known), self._detector(backbone, task.n_known)]
        keep, forget, snapshots, stats = [everything, everything], p.forget_rate, [], {}
        rows = np.union1d(pool, train_rows)
        at_pool, at_train = np.searchsorted(rows, pool), np.searchsorted(rows, train_rows)
        for cycle in range(p.cycles):
            train_losses = []
            for i, detector in enumerate(detectors):
                stats[f"detector{i}-cycle{cycle}"] = train(detector, keep[i], p.detector_epochs // p.cycles, None,
                                                           f"detector{i}-cycle{cycle}", task.seed + 1 + 2 * cycle + i)
                feats, logits = features_and_logits(task, detector, rows, backbone)
                snapshots.append(per_sample_ce(logits[at_pool], pool_pseudo))
                train_losses.append(per_sample_ce(logits[at_train], targets))
                if i == 0:
                    pool_feats = feats[at_pool]
            if cycle + 1 < p.cycles:
                if forget is None:
                    forget = float(high_loss_component(np.mean(train_losses, axis=0)).mean())
                n_keep = math.ceil((1 - forget * (cycle + 1) / (p.cycles - 1)) * len(train_rows))
                n_keep = max(n_keep, min(p.detector_batch_size, len(train_rows)))  # a forget rate near 1 keeps a batch
                keep = [np.sort(np.argsort(train_losses[1 - i], kind="stable")[:n_keep]) for i in range(2)]
        return np.mean(snapshots, axis=0), pool_feats, {**stats, "forget_rate": forget}

    def _detector_backbone(self, task: GCDTask) -> Backbone:
        name = self.params.detector_backbone
        if not name:
            return task.backbone
        if task.backbone_by_name is None:
            raise GFaceError(f"openset-fer.detector_backbone={name!r}: this task offers no other backbone; "
                             f"set it to '' for a copy of the task's backbone")
        return task.backbone_by_name(name)

    def _detector(self, backbone: Backbone, n_known: int) -> ClosedSetNetwork:
        return ClosedSetNetwork(backbone, n_known, with_map=True, method_name="openset-fer")

    def _step(self, network: ClosedSetNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        n = len(batch.labels)
        feats, feature_map = network.features_and_map(batch.views)
        ce = F.cross_entropy(network.classifier(feats[:n]).float(), batch.labels)
        cams = class_activation_maps(feature_map.float(), network.classifier.weight.float())
        consistency = attention_consistency(flip_discrepancy(cams[:n], cams[n:]))
        return ce + self.params.consistency_weight * consistency, {"ce": ce.item(), "consistency": consistency.item()}


def per_sample_ce(logits: torch.Tensor, targets: np.ndarray) -> np.ndarray:
    """Cross-entropy of each row against its (pseudo-)label."""
    return F.cross_entropy(logits, torch.as_tensor(targets, dtype=torch.long), reduction="none").numpy()


def high_loss_component(losses: np.ndarray) -> np.ndarray:
    """Rows that a two-component Gaussian mixture on the loss assigns to its higher-mean component."""
    losses = np.asarray(losses, dtype=np.float64).reshape(-1, 1)
    if len(losses) < 2 or np.ptp(losses) == 0:
        return np.zeros(len(losses), dtype=bool)
    mixture = GaussianMixture(n_components=2, random_state=0).fit(losses)
    return mixture.predict_proba(losses)[:, int(np.argmax(mixture.means_[:, 0]))] > 0.5

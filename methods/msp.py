"""Closed-set baseline of Open-Set-FER (Zhang et al., AAAI 2024; METHODS.md §5.1-5.2): a classifier trained on the
labelled known-class images, the maximum softmax probability as knownness.

Stage A of Open-Set-FER: backbone copy (last block trains, suite convention) -> Linear to K_old, cross-entropy on
D_L, Adam (lr 1e-3, weight decay 1e-4) with exponential decay 0.9 per epoch, 60 epochs, batch 512, last epoch.
Views: the suite's "imagenet" view (resize, flip; ``crop_pct`` 1 = no crop, as the release) and random erasing
(scale 0.02-0.25, p 0.5); the release's Gaussian-noise alternative to the flip is not applied.
Predictions: argmax over the known classes only (no new-class cluster); ``closed_set`` so closed-set accuracy is
also scored without matching. Knownness: maximum softmax probability (the paper's baseline) or, with
``score=max_logit``, the maximum raw logit (the release's notebook).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch.nn.functional as F

from benchmark.core.errors import GFaceError
from benchmark.method import Method, Predictions
from benchmark.core.registry import METHODS
from benchmark.task import GCDTask
from benchmark.training.closed_set import NO_ROWS, ClosedSetNetwork, cross_entropy_step, features_and_logits
from benchmark.training.flip_views import erased_view_maker
from benchmark.training.trainer import OptimConfig, TrainStats, fit

SCORES = ("msp", "max_logit")


@dataclass
class MSPParams:
    epochs: int = 60
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_decay: float = 0.9  # exponential, per epoch
    crop_pct: float = 1.0
    erase_p: float = 0.5
    score: str = "msp"  # "msp" (paper baseline) or "max_logit" (release notebook)

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise GFaceError(f"msp.score={self.score!r}: choose one of {', '.join(SCORES)}")


def closed_set_optim(epochs: int, batch_size: int, lr: float, weight_decay: float, lr_decay: float,
                     n_rows: int) -> OptimConfig:
    """Adam with exponential decay (Open-Set-FER); the batch never exceeds the training set."""
    return OptimConfig(epochs, min(batch_size, n_rows), lr, momentum=0.0, weight_decay=weight_decay, decay_1d=True,
                       optimizer="adam", lr_decay=lr_decay)


def train_closed_set_model(task: GCDTask, p, work_dir: Path, desc: str) -> tuple[ClosedSetNetwork, TrainStats]:
    """Stage A: the closed-set classifier on D_L (``p`` has epochs, batch_size, lr, weight_decay, lr_decay,
    crop_pct and erase_p)."""
    network = ClosedSetNetwork(task.backbone, task.n_known, with_map=False, method_name=desc)
    stats = fit(network, cross_entropy_step, erased_view_maker(task.backbone, p.crop_pct, p.erase_p, with_flip=False),
        task.images, task.labelled_idx, task.labelled_y, NO_ROWS,
        closed_set_optim(p.epochs, p.batch_size, p.lr, p.weight_decay, p.lr_decay, len(task.labelled_idx)),
        work_dir, task.seed, task.device, desc=desc)
    return network, stats


@METHODS.register("msp")
class MSP(Method):
    Params = MSPParams
    profiles = {"cpu": {"epochs": 4, "batch_size": 128}}
    summary = "closed-set classifier on the known classes; maximum softmax probability as knownness"

    def run(self, task: GCDTask) -> Predictions:
        network, stats = train_closed_set_model(task, self.params, task.work_dir, "msp")
        clusters, knownness = {}, {}
        for eval_set in task.eval_sets:
            logits = features_and_logits(task, network, task.indices(eval_set))[1]
            clusters[eval_set] = logits.argmax(1).numpy()
            knownness[eval_set] = (F.softmax(logits, dim=1).max(1).values if self.params.score == "msp"
                                   else logits.max(1).values).numpy()
        adapter = "max_softmax_probability" if self.params.score == "msp" else "max_logit"
        return Predictions(clusters, knownness, adapter, {"train": vars(stats)}, closed_set=True)

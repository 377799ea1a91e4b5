"""Closed-set baseline of Open-Set-FER (Zhang et al., AAAI 2024; methods/README.md, "MSP baseline"): a classifier
trained on the labelled known-class images, the maximum softmax probability as knownness.

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

import torch.nn.functional as F

from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, at_least
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.closed_set import features_and_logits, train_closed_set_model

SCORES = ("msp", "max_logit")


@dataclass
class MSPParams:
    epochs: int = at_least(60, 1)
    batch_size: int = at_least(512, 1)
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lr_decay: float = 0.9  # exponential, per epoch
    crop_pct: float = 1.0
    erase_p: float = 0.5
    score: str = "msp"  # "msp" (paper baseline) or "max_logit" (release notebook)

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise GFaceError(f"msp.score={self.score!r}: choose one of {', '.join(SCORES)}")


@METHODS.register("msp")
class MSP(Method):
    Params = MSPParams
    search_space = tuned(MSPParams)  # the one rule: benchmark/search_space.py
    profiles = {"cpu": {"budget": 16, "batch_size": 128},
                "smoke": {"epochs": 1, "batch_size": 16}}
    summary = "MSP: closed-set classifier on the known classes; maximum softmax probability as knownness"

    def run(self, task: GCDTask) -> Predictions:
        network, stats = train_closed_set_model(task, self.params, task.work_dir, "msp")
        clusters, knownness = {}, {}
        for eval_set in task.prediction_sets:
            logits = features_and_logits(task, network, task.indices(eval_set))[1]
            clusters[eval_set] = logits.argmax(1).numpy()
            knownness[eval_set] = (F.softmax(logits, dim=1).max(1).values if self.params.score == "msp"
                                   else logits.max(1).values).numpy()
        adapter = "max_softmax_probability" if self.params.score == "msp" else "max_logit"
        return Predictions(clusters, knownness, adapter, {"train": vars(stats)}, closed_set=True)

"""Mine-Extra-Knowledge (Zhang et al., NeurIPS 2023; methods/README.md, "Mine-Extra-Knowledge") as a closed-set
baseline for imbalanced FER.

A classifier on the known classes, trained on D_L with ``L_RSL + 0.1 L_RAC`` (no plain cross-entropy): re-balanced
smooth labels (epsilon 0.3) and re-balanced flip attention consistency over the class activation maps of every
class, both with ``w_k = N / (10 n_k)`` from D_L's class histogram (never the release's RAF-DB constants).
Network: backbone copy (last block trains, suite convention; the release trains a whole Swin-T), classifier on the
spatial mean of the last feature map, CAMs from that map with the detached classifier weights.
Optimisation: AdamW, weight decay 0.05, lr 5e-4 x 32/512, batch 32, gradient-norm clip 5; the release's 60,000
steps at batch 32 are ~156 passes over RAF-DB's 12,271 training images; per-epoch cosine schedule (the release
steps a cosine per iteration after 2,000 warm-up steps). Views: the suite's "imagenet" view (no crop), random
erasing p 0.25, then the exact flip; the release's colour jitter and RandAugment are not applied.
Predictions: argmax over the known classes (closed-set); knownness: maximum softmax probability.
Also an add-on loss of the parametric GCD methods: ``--set simgcd.rebalance=1`` (``training/rebalance_addon.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, at_least
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.attention_consistency import (class_activation_maps, flip_discrepancy,
                                                      rebalanced_attention_consistency)
from benchmark.training.closed_set import NO_ROWS, ClosedSetNetwork, known_class_predictions
from benchmark.training.flip_views import erased_view_maker
from benchmark.training.rebalance import labelled_class_weights, rebalanced_smooth_loss
from benchmark.training.trainer import Batch, OptimConfig, fit, image_views


@dataclass
class MEKParams:
    epochs: int = at_least(156, 1)  # 60,000 steps x 32 / 12,271 RAF-DB training images
    batch_size: int = at_least(32, 1)
    lr: float = 3.125e-5  # 5e-4 x 32 / 512
    weight_decay: float = 0.05
    clip_grad_norm: float = 5.0
    smoothing: float = 0.3
    rac_weight: float = 0.1
    crop_pct: float = 1.0
    erase_p: float = 0.25


@METHODS.register("mek")
class MEK(Method):
    Params = MEKParams
    search_space = tuned(MEKParams, weights=("smoothing", "rac_weight"))  # the one rule: benchmark/search_space.py
    profiles = {"cpu": {"budget": 16, "batch_size": 64, "lr": 1e-3},
                "smoke": {"epochs": 1, "batch_size": 16, "lr": 1e-3}}
    summary = "MEK: closed-set classifier with re-balanced smooth labels and re-balanced attention consistency"

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        weights = labelled_class_weights(task.labelled_y, task.n_known, task.known_class_names).to(task.device)
        network = ClosedSetNetwork(task.backbone, task.n_known, with_map=True, method_name="mek")
        views = image_views(task.images, task.device,
                            erased_view_maker(task.backbone, p.crop_pct, p.erase_p, with_flip=True))
        stats = fit(network, partial(self._step, weights=weights), views, task.labelled_idx, task.labelled_y, NO_ROWS,
                    OptimConfig(p.epochs, min(p.batch_size, len(task.labelled_idx)), p.lr, momentum=0.0,
                                weight_decay=p.weight_decay, decay_1d=True, clip_grad_norm=p.clip_grad_norm,
                                optimizer="adamw"),
                    task.work_dir, task.seed, task.device, desc="mek")
        clusters, knownness = known_class_predictions(task, network)
        names = task.known_class_names or tuple(map(str, range(task.n_known)))
        return Predictions(clusters, knownness, "max_softmax_probability",
                           {"train": vars(stats), "class_weights": dict(zip(names, weights.tolist()))},
                           closed_set=True)

    def _step(self, network: ClosedSetNetwork, batch: Batch,
              weights: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        n = len(batch.labels)
        feats, feature_map = network.features_and_map(batch.views)
        rsl = rebalanced_smooth_loss(network.classifier(feats[:n]), batch.labels, weights, p.smoothing)
        cams = class_activation_maps(feature_map.float(), network.classifier.weight.float())
        rac = rebalanced_attention_consistency(flip_discrepancy(cams[:n], cams[n:]), weights)
        return rsl + p.rac_weight * rac, {"rsl": rsl.item(), "rac": rac.item()}

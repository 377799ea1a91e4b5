"""The network of the closed-set FER methods (MSP baseline, Open-Set-FER, MEK, Face2Exp): a copy of the backbone
whose last block trains, and a linear classifier over the known classes, with a supervised training step,
prediction over the known classes, and the closed-set training stage that MSP and Open-Set-FER share."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.backbone import Backbone
from benchmark.core.errors import GFaceError
from benchmark.task import GCDTask
from benchmark.training.backbone_training import features_of, trainable_copy
from benchmark.training.flip_views import erased_view_maker
from benchmark.training.trainer import Batch, OptimConfig, TrainStats, fit, image_views

NO_ROWS = np.zeros(0, dtype=np.int64)  # the empty D_U that makes ``fit`` train supervised


class ClosedSetNetwork(nn.Module):
    """Backbone copy -> feature -> Linear to ``n_classes``.

    With ``with_map`` the feature is the spatial mean of the backbone's last feature map, which
    ``features_and_map`` also returns for class activation maps.
    """

    def __init__(self, backbone: Backbone, n_classes: int, with_map: bool, method_name: str):
        super().__init__()
        if with_map and backbone.feature_map is None:
            raise GFaceError(f"{method_name} needs class activation maps, hence the backbone's last spatial feature "
                             f"map, which backbone {backbone.name!r} does not expose (Backbone.feature_map); use a "
                             f"backbone that does, e.g. synthface-cnn or vit_b16_dino")
        self.backbone = trainable_copy(backbone)
        self.classifier = nn.Linear(backbone.feature_dim, n_classes)
        self.map_of = backbone.feature_map if with_map else None

    def features_and_map(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.map_of is None:
            return self.backbone(x), None
        feature_map = self.map_of(self.backbone, x)
        return feature_map.mean(dim=(2, 3)), feature_map

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The feature (what feature extraction reads); ``classifier`` maps it to logits."""
        return self.features_and_map(x)[0]


def cross_entropy_step(network: ClosedSetNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
    """Plain supervised cross-entropy on one view per image."""
    loss = F.cross_entropy(network.classifier(network(batch.views)).float(), batch.labels)
    return loss, {"ce": loss.item()}


def features_and_logits(task: GCDTask, network: ClosedSetNetwork, rows: np.ndarray,
                        backbone: Backbone | None = None) -> tuple[np.ndarray, torch.Tensor]:
    """Test-transform features of ``rows`` and the classifier's logits (float32, on the CPU); ``backbone``: the one
    ``network`` copies, when not the task's."""
    feats = features_of(task, network, rows, backbone)
    with torch.no_grad():
        logits = network.classifier(torch.from_numpy(feats).to(task.device)).float().cpu()
    return feats, logits


def known_class_predictions(task: GCDTask, network: ClosedSetNetwork) -> tuple[dict[str, np.ndarray],
                                                                                dict[str, np.ndarray]]:
    """Per prediction set: the argmax over the known classes (the class index) and the maximum softmax probability
    as knownness."""
    clusters, knownness = {}, {}
    for eval_set in task.prediction_sets:
        logits = features_and_logits(task, network, task.indices(eval_set))[1]
        clusters[eval_set] = logits.argmax(1).numpy()
        knownness[eval_set] = F.softmax(logits, dim=1).max(1).values.numpy()
    return clusters, knownness


def closed_set_optim(epochs: int, batch_size: int, lr: float, weight_decay: float, lr_decay: float,
                     n_rows: int) -> OptimConfig:
    """Adam with exponential decay (Open-Set-FER); the batch never exceeds the training set."""
    return OptimConfig(epochs, min(batch_size, n_rows), lr, momentum=0.0, weight_decay=weight_decay, decay_1d=True,
                       optimizer="adam", lr_decay=lr_decay)


def train_closed_set_model(task: GCDTask, p, work_dir: Path, desc: str) -> tuple[ClosedSetNetwork, TrainStats]:
    """Stage A: the closed-set classifier on D_L (``p`` has epochs, batch_size, lr, weight_decay, lr_decay,
    crop_pct and erase_p)."""
    network = ClosedSetNetwork(task.backbone, task.n_known, with_map=False, method_name=desc)
    views = image_views(task.images, task.device,
                        erased_view_maker(task.backbone, p.crop_pct, p.erase_p, with_flip=False))
    stats = fit(network, cross_entropy_step, views, task.labelled_idx, task.labelled_y, NO_ROWS,
        closed_set_optim(p.epochs, p.batch_size, p.lr, p.weight_decay, p.lr_decay, len(task.labelled_idx)),
        work_dir, task.seed, task.device, desc=desc)
    return network, stats

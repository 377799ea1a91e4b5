"""Meta-Face2Exp (Zeng et al., CVPR 2022; methods/README.md, "Face2Exp") as a closed-set baseline for FER.

Two networks over the known classes, each a backbone copy (last block trains, suite convention) with a linear
classifier. Every step of ``fit``, on the labelled rows (view 2) and the unlabelled rows of D_U (weak view 1,
strong view 2):

1. the base network (BN) gives hard pseudo-labels ``argmax softmax(BN(weak) / T)``;
2. the adaptation network (AN) takes one SGD step on ``CE(AN(strong), pseudo-label)`` (its own optimiser, inside the
   step; its state travels in the checkpoint through ``get_extra_state``);
3. circuit feedback: ``h = CE(AN_before(x_l), y) - CE(AN_after(x_l), y)``, the change of AN's labelled loss that the
   step caused (the first-order meta-pseudo-label coefficient, as the release computes it);
4. BN's loss ``CE(BN(x_l), y) + lambda_u * UDA(BN) + h * CE(BN(strong), pseudo-label)`` is stepped by ``fit``.

BN learns from a class-balanced subset of D_L (``balanced_labels``; the release's 10 % class-balanced AffectNet
list). The unlabelled face pool is D_U, plus ``face_pool`` expression-blind SynthFACE faces when set (the paper's
large face-recognition pool; rendered once into the method's cache, no labels). The release's
feedback term re-draws the pseudo-label as the argmax of BN's strong view (``released_code=True``); the default uses
the pseudo-label AN learned. Predictions: AN's argmax over the known classes (closed-set; the release evaluates and
ships the AN); knownness: AN's maximum softmax probability. BN's argmax is the run's reference prediction (scored as
``closed_accuracy_reference``), and the record keeps the share of rows where BN and AN agree (``base_agreement``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark import distributed
from benchmark.core.cached_arrays import cached_array
from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions, TaskShape, at_least, require_steps
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.augment import crop_flip_normalise, resized
from benchmark.training.closed_set import ClosedSetNetwork, known_class_predictions
from benchmark.training.flip_views import random_erasing
from benchmark.training.trainer import AugmentFn, Batch, OptimConfig, fit, image_views


@dataclass
class Face2ExpParams:
    released_code: bool = False  # True: the feedback re-draws the pseudo-label from BN's strong view (release)
    epochs: int = at_least(142, 1)  # 180,000 steps x 224 unlabelled / 283,901 AffectNet training images
    batch_size: int = at_least(256, 1)  # release: 32 labelled + 7 x 32 unlabelled per step
    lr: float = 1e-3  # both networks (teacher_lr = student_lr)
    momentum: float = 0.9
    weight_decay: float = 0.0  # the release passes none to either SGD
    temperature: float = 1.0  # of BN's soft pseudo-labels
    consistency_weight: float = 1.0  # lambda_u of BN's UDA term (ramp of 1 step: constant)
    balanced_labels: bool = True  # BN and the feedback see a class-balanced subset of D_L
    crop_pct: float = 0.875  # release: resize 256, random crop 224
    erase_p: float = 1.0  # release: random erasing with p 1 on the labelled view
    face_pool: int = at_least(0, 0)  # expression-blind faces added to D_U as unlabelled images (0: D_U only)

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise GFaceError(f"face2exp.temperature={self.temperature} must be positive")


def pool_faces(task: GCDTask, n: int) -> np.ndarray:
    """``n`` unlabelled faces from the dataset's face source, rendered once into the method's cache."""
    if task.face_source is None:
        raise GFaceError(f"face2exp.face_pool={n}: dataset {task.dataset_name!r} offers no expression-blind faces "
                         f"(only SynthFACE does); set face2exp.face_pool=0")
    return cached_array(Path(task.cache_dir) / f"face-pool-{task.face_source.key}-{n}.npy",
                        lambda: task.face_source.render(n), "face2exp face pool", dtype=np.uint8, ndim=4, length=n)


class WithFacePool:
    """``task.images`` followed by the face pool: rows ``len(images)`` onwards are pool faces."""

    def __init__(self, images, pool: np.ndarray):
        self.images, self.pool = images, pool
        self.shape = (len(images) + len(pool),) + tuple(pool.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows),) + self.shape[1:], dtype=np.uint8)
        own = rows < len(self.images)
        if own.any():
            out[own] = self.images[rows[own]]
        out[~own] = self.pool[rows[~own] - len(self.images)]
        return out


def class_balanced_subset(labels: np.ndarray, seed: int) -> np.ndarray:
    """Positions into ``labels``: the same number of rows of every class present, the smallest class's count,
    drawn at random (sorted)."""
    classes, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=counts.min(), replace=False) for c in classes]
    return np.sort(np.concatenate(picked))


def soft_pseudo_label_consistency(weak_logits: torch.Tensor, strong_logits: torch.Tensor,
                                  temperature: float) -> torch.Tensor:
    """UDA term: ``mean_i -sum_k q_ik log softmax(strong_i)_k`` with ``q = softmax(weak / T)``, detached."""
    targets = F.softmax(weak_logits.detach().float() / temperature, dim=1)
    return -(targets * F.log_softmax(strong_logits.float(), dim=1)).sum(1).mean()


def circuit_feedback(loss_before: torch.Tensor, loss_after: torch.Tensor, base_strong_logits: torch.Tensor,
                     pseudo_labels: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``h * CE(BN(strong), pseudo_labels)`` with ``h = loss_before - loss_after`` (AN's labelled loss before and
    after its step; positive when the pseudo-labels helped AN, so BN reinforces them); returns the term and h."""
    h = (loss_before - loss_after).detach().float()
    return h * F.cross_entropy(base_strong_logits.float(), pseudo_labels), h.item()


def cosine_lr(lr: float, epoch: int, epochs: int, min_lr_ratio: float) -> float:
    """The learning rate of ``epoch`` under ``fit``'s per-epoch cosine (CosineAnnealingLR, eta_min = lr x ratio)."""
    low = lr * min_lr_ratio
    return low + (lr - low) * (1 + math.cos(math.pi * epoch / epochs)) / 2


def weak_and_erased_views(backbone, crop_pct: float, erase_p: float) -> AugmentFn:
    """(2B, ...): a resize-crop-flip view of every image (weak), then a second crop-flip view, erased (strong)."""

    def make(uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x = resized(uint8, backbone.input_size, crop_pct)
        weak = crop_flip_normalise(x, backbone.input_size, backbone.mean, backbone.std, generator)
        strong = crop_flip_normalise(x, backbone.input_size, backbone.mean, backbone.std, generator)
        return torch.cat([weak, random_erasing(strong, erase_p, generator)])

    return make


class BaseAndAdaptation(nn.Module):
    """BN and AN; AN's SGD lives here (``fit``'s optimiser steps BN: AN never has a gradient when it steps) and its
    state is saved with the module's state dict."""

    def __init__(self, base: ClosedSetNetwork, adaptation: ClosedSetNetwork, optim: OptimConfig):
        super().__init__()
        self.base, self.adaptation, self.optim = base, adaptation, optim
        trainable = [p for p in adaptation.parameters() if p.requires_grad]
        self.adaptation_optimiser = torch.optim.SGD(trainable, lr=optim.lr, momentum=optim.momentum,
                                                    weight_decay=optim.weight_decay)

    def step_adaptation(self, loss: torch.Tensor, epoch: int) -> None:
        for group in self.adaptation_optimiser.param_groups:
            group["lr"] = cosine_lr(self.optim.lr, epoch, self.optim.epochs, self.optim.min_lr_ratio)
        self.adaptation_optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.adaptation_optimiser.step()
        self.adaptation_optimiser.zero_grad(set_to_none=True)

    def get_extra_state(self) -> dict:
        return self.adaptation_optimiser.state_dict()

    def set_extra_state(self, state: dict) -> None:
        self.adaptation_optimiser.load_state_dict(state)


@METHODS.register("face2exp")
class Face2Exp(Method):
    Params = Face2ExpParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        Face2ExpParams, decays=(), weights=("consistency_weight",))
    budget_params = ()  # no schedule counted in epochs or steps: 0 warm-up, 0 student wait, a 1-step lambda_u ramp
    profiles = {"cpu": {"budget": 16, "batch_size": 128},
                "smoke": {"epochs": 1, "batch_size": 16}}
    summary = "Meta-Face2Exp: base network pseudo-labels D_U for an adaptation network, circuit feedback; closed-set"

    def check(self, shape: TaskShape) -> None:
        if shape.n_unlabelled == 0:
            raise GFaceError(f"face2exp needs unlabelled images to pseudo-label, and protocol {shape.protocol_id!r} "
                             f"has none; use a protocol with a D_U")
        require_steps(shape, self.params.batch_size, "face2exp")

    def run(self, task: GCDTask) -> Predictions:
        if distributed.world_size() > 1:
            raise GFaceError("face2exp steps its adaptation network inside the training step, which DDP does not "
                             "synchronise; run it in one process (without torchrun)")
        p = self.params
        labelled = (class_balanced_subset(task.labelled_y, task.seed) if p.balanced_labels
                    else np.arange(len(task.labelled_idx)))
        optim = OptimConfig(p.epochs, p.batch_size, p.lr, p.momentum, p.weight_decay, decay_1d=True)
        networks = BaseAndAdaptation(*(ClosedSetNetwork(task.backbone, task.n_known, False, "face2exp")
                                       for _ in range(2)), optim)
        images, unlabelled = task.images, task.unlabelled_idx
        if p.face_pool:
            pool = pool_faces(task, p.face_pool)
            images = WithFacePool(task.images, pool)
            unlabelled = np.concatenate([unlabelled, len(task.images) + np.arange(len(pool))])
        views = image_views(images, task.device, weak_and_erased_views(task.backbone, p.crop_pct, p.erase_p))
        stats = fit(networks, self._step, views, task.labelled_idx[labelled], task.labelled_y[labelled],
                    unlabelled, optim, task.work_dir, task.seed, task.device, desc="face2exp")
        clusters, knownness = known_class_predictions(task, networks.adaptation)
        base_clusters = known_class_predictions(task, networks.base)[0]
        agreement = {s: round(float(np.mean(clusters[s] == base_clusters[s])), 6) for s in clusters}
        return Predictions(clusters, knownness, "max_softmax_probability",
                           {"train": vars(stats), "labelled_rows_used": int(len(labelled)),
                            "unlabelled_rows_used": int(len(unlabelled)), "base_agreement": agreement},
                           closed_set=True, reference_clusters=base_clusters)

    def _step(self, networks: BaseAndAdaptation, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        p = self.params
        n, known = len(batch.labels), batch.is_labelled
        weak, strong = batch.views[:n], batch.views[n:]
        if known.all() or not known.any():  # a batch without one side: nothing to pseudo-label or to feed back
            return networks.base.classifier(networks.base(strong[:1])).sum() * 0.0, {}
        x_l, y, x_weak, x_strong = strong[known], batch.labels[known], weak[~known], strong[~known]
        n_l, n_u = len(y), len(x_weak)
        base_logits = networks.base.classifier(networks.base(torch.cat([x_l, x_weak, x_strong]))).float()
        base_l, base_weak, base_strong = base_logits.split([n_l, n_u, n_u])
        pseudo = F.softmax(base_weak.detach() / p.temperature, dim=1).argmax(1)
        adaptation_logits = networks.adaptation.classifier(networks.adaptation(torch.cat([x_l, x_strong]))).float()
        adaptation_l, adaptation_strong = adaptation_logits.split([n_l, n_u])
        adaptation_loss = F.cross_entropy(adaptation_strong, pseudo)
        before = F.cross_entropy(adaptation_l.detach(), y)
        networks.step_adaptation(adaptation_loss, batch.epoch)
        with torch.no_grad():
            after = F.cross_entropy(networks.adaptation.classifier(networks.adaptation(x_l)).float(), y)
        feedback_labels = base_strong.detach().argmax(1) if p.released_code else pseudo
        feedback, h = circuit_feedback(before, after, base_strong, feedback_labels)
        supervised = F.cross_entropy(base_l, y)
        consistency = soft_pseudo_label_consistency(base_weak, base_strong, p.temperature)
        logs = {"bn_ce": supervised.item(), "uda": consistency.item(), "an_ce": adaptation_loss.item(), "h": h}
        return supervised + p.consistency_weight * consistency + feedback, logs

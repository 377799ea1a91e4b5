"""What the learning methods share around the backbone: a trainable copy, training views, re-extraction."""
from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Callable

import numpy as np
import torch

from benchmark.core.backbone import Backbone
from benchmark.core.errors import GFaceError
from benchmark.features import FEATURE_BATCH, extract_features, model_input_batches
from benchmark.method import TaskShape, require_steps
from benchmark.number_of_classes import require_k_given
from benchmark.task import GCDTask
from benchmark.training.augment import two_views
from benchmark.training.finetune import freeze_all_but
from benchmark.training.knownness_scores import known_mass
from benchmark.training.trainer import ViewFn, image_views
from benchmark.training.view_bank import Tail, load_view_bank, require_trunk


TRUNK_CACHE_BYTES = 2 * 1024 ** 3  # float32 trunk outputs kept for features_during_training


def trainable_copy(backbone: Backbone) -> torch.nn.Module:
    """A deep copy of the backbone network with only its last block (``trainable_prefixes``) trainable."""
    model = copy.deepcopy(backbone.model)
    freeze_all_but(model, backbone.trainable_prefixes)
    return model


def view_maker(task: GCDTask, crop_pct: float) -> ViewFn:
    """Two fresh "imagenet"-augmented views of each row at the backbone's input size and normalisation."""
    backbone = task.backbone
    return image_views(task.images, task.device, lambda uint8, generator: two_views(
        uint8, backbone.input_size, crop_pct, backbone.mean, backbone.std, generator))


@dataclasses.dataclass
class TrainingInput:
    """How a partly fine-tuned backbone is fed during training: ``views`` for ``trainer.fit`` and ``trained``, the
    module the method's network calls on them (the copy itself, or its ``Tail`` on view-bank trunk outputs).
    ``network`` is the full copy: the one to extract features with after training."""

    network: torch.nn.Module
    trained: torch.nn.Module
    views: ViewFn
    record: dict


def training_input(task: GCDTask, crop_pct: float, view_bank: int) -> TrainingInput:
    """A trainable copy of the task's backbone and its two views per row: fresh augmentations (``view_bank=0``) or
    two of ``view_bank`` stored trunk outputs per training image (``benchmark/training/view_bank.py``)."""
    network = trainable_copy(task.backbone)
    if not view_bank:
        return TrainingInput(network, network, view_maker(task, crop_pct), {"view_bank": None})
    if task.view_bank_dir is None:
        raise GFaceError(f"task {task.protocol_id}: this task offers no view bank folder; set view_bank=0")
    bank = load_view_bank(task.backbone, task.images, np.concatenate([task.labelled_idx, task.unlabelled_idx]),
                          view_bank, crop_pct, task.view_bank_dir, task.device)
    return TrainingInput(network, Tail(network, task.backbone.tail), bank, {"view_bank": bank.describe()})


def features_of(task: GCDTask, network: torch.nn.Module, rows: np.ndarray, backbone: Backbone | None = None) -> np.ndarray:
    """Test-transform features of the given rows from a (fine-tuned) copy of ``backbone`` (default: the task's)."""
    tuned = dataclasses.replace(backbone or task.backbone, model=network)
    return extract_features(tuned, task.images, task.device, rows=rows, batch_size=FEATURE_BATCH, progress=False)


def features_during_training(task: GCDTask, inputs: TrainingInput, rows: np.ndarray) -> Callable[[], np.ndarray]:
    """A function giving ``features_of(task, inputs.network, rows)`` for rows fixed for the run, to call again during
    training. With a view bank only the tail trains and the trunk (its batch-norm statistics included) never changes,
    so the trunk's outputs of the test-transform images are computed once (when they fit in
    ``TRUNK_CACHE_BYTES``) and each call runs the tail alone, in the same batches: the same values, bit for bit
    (tests/test_training_features.py), without the trunk's cost."""
    whole = functools.partial(features_of, task, inputs.network, rows)
    if not isinstance(inputs.trained, Tail) or not len(rows):
        return whole
    backbone, network = task.backbone, inputs.network
    trunk_outputs: list[torch.Tensor] = []
    with torch.no_grad():
        network.to(task.device).eval()
        for x in model_input_batches(backbone, task.images, rows, task.device, FEATURE_BATCH):
            trunk_outputs.append(backbone.trunk(network, x))
            if trunk_outputs[0][0].numel() * 4 * len(rows) > TRUNK_CACHE_BYTES:  # known from the first batch
                return whole

    @torch.no_grad()
    def tail_features() -> np.ndarray:
        network.to(task.device).eval()
        return np.concatenate([backbone.tail(network, h).float().cpu().numpy() for h in trunk_outputs])
    return tail_features


def classify_sets(task: GCDTask, network: torch.nn.Module, head: Callable[[torch.Tensor], torch.Tensor],
                  temperature: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per prediction set: the argmax of the logits ``head`` gives on the CPU features of the fine-tuned
    ``network`` over all K classes (known first), and the known classes' probability mass at ``temperature``."""
    clusters, knownness = {}, {}
    for eval_set in task.prediction_sets:
        feats = torch.from_numpy(features_of(task, network, task.indices(eval_set)))
        with torch.no_grad():
            logits = head(feats)
        clusters[eval_set] = logits.argmax(1).numpy()
        knownness[eval_set] = known_mass(logits, task.n_known, temperature)
    return clusters, knownness


def check_classifier_training(shape: TaskShape, batch_size: int, view_bank: int, method_name: str) -> None:
    """For ``Method.check`` of a classifier over K classes trained on the backbone: K given, at least one full batch
    per epoch, a backbone that splits into trunk and tail when a view bank is asked for."""
    require_k_given(shape, method_name)
    require_steps(shape, batch_size, method_name)
    require_trunk(shape, view_bank, method_name)

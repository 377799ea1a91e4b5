"""What the learning methods share around the backbone: a trainable copy, training views, re-extraction."""
from __future__ import annotations

import copy
import dataclasses

import numpy as np
import torch

from benchmark.core.backbone import Backbone
from benchmark.features import extract_features
from benchmark.task import GCDTask
from benchmark.training.augment import two_views
from benchmark.training.finetune import freeze_all_but
from benchmark.training.trainer import ViewFn


def trainable_copy(backbone: Backbone) -> torch.nn.Module:
    """A deep copy of the backbone network with only its last block (``trainable_prefixes``) trainable."""
    model = copy.deepcopy(backbone.model)
    freeze_all_but(model, backbone.trainable_prefixes)
    return model


def view_maker(backbone: Backbone, crop_pct: float) -> ViewFn:
    """Two "imagenet"-augmented views at the backbone's input size and normalisation."""
    return lambda uint8, generator: two_views(uint8, backbone.input_size, crop_pct, backbone.mean, backbone.std,
                                              generator)


def features_of(task: GCDTask, network: torch.nn.Module, rows: np.ndarray) -> np.ndarray:
    """Test-transform features of the given rows from a (fine-tuned) copy of the task's backbone network."""
    tuned = dataclasses.replace(task.backbone, model=network)
    return extract_features(tuned, task.images, task.device, rows=rows, progress=False)

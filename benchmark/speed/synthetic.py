"""Synthetic stand-ins at real shapes for the speed scripts: class-coloured noise images, a GCD task over them,
and (for ``--random-weights``) a DINO ViT-B/16 weight file with random values (same compute as the real one)."""
from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import numpy as np
import timm
import torch

from benchmark.atomic import write_bytes
from benchmark.backbones.base import Backbone
from benchmark.backbones.vit_dino import WEIGHTS_ENV
from benchmark.errors import GFaceError
from benchmark.protocol import Protocol, materialise
from benchmark.registries import BACKBONES
from benchmark.task import GCDTask
from datasets.base import FERData, content_key


def synthetic_faces(class_names: tuple[str, ...], n_train: int, n_test: int, size: int, seed: int = 0) -> FERData:
    """uint8 (N, size, size, 3) images: a colour per class plus noise; classes cycle so every class is present."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    labels = np.arange(n) % len(class_names)
    colours = rng.integers(40, 215, size=(len(class_names), 3)).astype(np.float32)
    images = np.empty((n, size, size, 3), np.uint8)
    for start in range(0, n, 1024):  # in chunks: the float intermediate of 15k x 100 x 100 x 3 would be 1.4 GB
        stop = min(n, start + 1024)
        noise = rng.normal(0, 40, (stop - start, size, size, 3)).astype(np.float32)
        images[start:stop] = np.clip(colours[labels[start:stop]][:, None, None, :] + noise, 0, 255)
    is_train = np.arange(n) < n_train
    return FERData("synthetic-faces", class_names, images, labels, is_train, tuple(f"s{i:06d}" for i in range(n)),
                   content_key(images.tobytes(), labels.tobytes()), {"synthetic": "class-coloured noise"})


def synthetic_task(protocol: Protocol, data: FERData, backbone: Backbone, cache_dir: Path, work_dir: Path,
                   device: torch.device, seed: int = 0) -> GCDTask:
    """The task a method would get for ``protocol`` on ``data`` (split seed 0, the protocol's classes)."""
    protocol = dataclasses.replace(protocol, id=f"{protocol.id}-synthetic", dataset=data.name, split_sha256=())
    split = materialise(protocol, data, 0)
    return GCDTask(protocol.id, data.name, data.content_key, data.images, split.labelled_idx, split.labelled_y,
                   split.unlabelled_idx, split.test_idx, protocol.n_known, len(protocol.class_names),
                   protocol.eval_sets, backbone, seed, device, cache_dir, work_dir, protocol.known)


def load_backbone(name: str, cache_dir: Path, random_weights: bool) -> Backbone:
    """The registered backbone; with ``random_weights`` (DINO ViT-B/16 only) random values in a temporary file."""
    if random_weights:
        if name != "vit_b16_dino":
            raise GFaceError(f"--random-weights is for vit_b16_dino (no weight file needed); {name} loads as usual")
        path = Path(cache_dir) / "random_vit_b16.pth"
        if not path.exists():
            buffer = io.BytesIO()
            torch.save(timm.create_model("vit_base_patch16_224", num_classes=0).state_dict(), buffer)
            write_bytes(path, buffer.getvalue())
        os.environ[WEIGHTS_ENV] = str(path)
    return BACKBONES.get(name)(cache_dir)

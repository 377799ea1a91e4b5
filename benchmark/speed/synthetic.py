"""Synthetic stand-ins at real shapes for the speed scripts: class-coloured noise images, a GCD task over them,
and (for ``--random-weights``) a weight file with random values for a backbone (same compute as the real one)."""
from __future__ import annotations

import argparse
import dataclasses
import io
import os
from pathlib import Path
from typing import Callable

import numpy as np
import timm
import torch
import torchvision

from benchmark.backbones import clip_vit, dinov2
from benchmark.backbones.resnet18 import IMAGENET, MSCELEB
from benchmark.backbones.resnet18 import build_backbone as build_resnet18
from benchmark.backbones.vit_dino import WEIGHTS_ENV
from benchmark.core.atomic import write_bytes
from benchmark.core.backbone import Backbone
from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.core.keys import content_key
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WeightFile
from benchmark.isolation import isolated_task
from benchmark.protocol import Protocol
from benchmark.splits import materialise
from benchmark.task import GCDTask


def add_synthetic_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every script timing the suite's code on synthetic faces shares (``--set`` help is per script)."""
    parser.add_argument("--image-size", type=int, default=100, help="stored image side in px (RAF-DB aligned: 100)")
    parser.add_argument("--protocol", default="rafdb-basic", help="protocol whose classes and split rule are used")
    parser.add_argument("--backbone", default=None, help="registered backbone (default: the protocol's)")
    parser.add_argument("--random-weights", action="store_true",
                        help=f"the backbone ({', '.join(RANDOM_WEIGHTS)}) with random weights (no weight file "
                             f"needed; same compute)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--json", type=Path, help="also write the table and machine facts here")


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
    task, _ = isolated_task(protocol.id, data, split, backbone, method="speed", seed=seed, device=device,
                            cache_dir=cache_dir, work_dir=work_dir)
    return task


def _random_vit_b16() -> tuple[dict, str, Callable[[Path], Backbone]]:
    return (timm.create_model("vit_base_patch16_224", num_classes=0).state_dict(), WEIGHTS_ENV,
            BACKBONES.get("vit_b16_dino"))


def _random_resnet18(source: WeightFile) -> Callable[[], tuple[dict, str, Callable[[Path], Backbone]]]:
    unpinned = dataclasses.replace(source, sha256=None)  # random values cannot have the official file's hash
    return lambda: ({"state_dict": torchvision.models.resnet18().state_dict()}, source.env,
                    lambda cache_dir: build_resnet18(unpinned, cache_dir))


def _random_dinov2() -> tuple[dict, str, Callable[[Path], Backbone]]:
    unpinned = dataclasses.replace(dinov2.WEIGHTS, sha256=None)  # random values cannot have the pinned hash
    state = timm.create_model(dinov2.ARCHITECTURE, num_classes=0).state_dict()  # the release's 518-px layout
    return state, unpinned.env, lambda cache_dir: dinov2.build_dinov2(unpinned, cache_dir)


def _random_clip() -> tuple[dict, str, Callable[[Path], Backbone]]:
    unpinned = dataclasses.replace(clip_vit.WEIGHTS, sha256=None)
    state = clip_vit.transformers_state(timm.create_model(clip_vit.ARCHITECTURE, num_classes=0))
    return state, unpinned.env, lambda cache_dir: clip_vit.build_clip(unpinned, cache_dir)


# backbone -> (random state dict in the format of its weight file, the variable naming that file, its loader)
RANDOM_WEIGHTS = {"vit_b16_dino": _random_vit_b16, MSCELEB.name: _random_resnet18(MSCELEB),
                  IMAGENET.name: _random_resnet18(IMAGENET), dinov2.WEIGHTS.name: _random_dinov2,
                  clip_vit.WEIGHTS.name: _random_clip}


def load_backbone(name: str, cache_dir: Path, random_weights: bool) -> Backbone:
    """The registered backbone; with ``random_weights`` its architecture with random values, written to a temporary
    weight file in the backbone's own format (same compute as the real weights)."""
    if random_weights:
        if name not in RANDOM_WEIGHTS:
            raise GFaceError(f"--random-weights is for {', '.join(RANDOM_WEIGHTS)}; {name} loads as usual")
        state, env, load = RANDOM_WEIGHTS[name]()
        path = Path(cache_dir) / f"random_{name}.pth"
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_bytes(path, buffer.getvalue())
        os.environ[env] = str(path)
        return load(cache_dir)
    return BACKBONES.get(name)(cache_dir)

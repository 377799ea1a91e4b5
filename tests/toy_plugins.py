"""A toy dataset, backbone, method and protocols for tests: tiny, fast, registered on demand."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from benchmark.core.backbone import Backbone
from benchmark.clustering import KMeansConfig, semi_supervised_kmeans
from benchmark.features import l2_normalise
from benchmark.method import Method, Predictions
from benchmark.plugin_discovery import load_plugins
from benchmark.protocol import Protocol
from benchmark.core.registry import BACKBONES, DATASETS, METHODS, PROTOCOLS
from benchmark.core.data import FaceSource, FERData
from benchmark.core.keys import content_key

TOY_CLASSES = ("alpha", "beta", "gamma", "delta")
PROTOCOL_DIR = Path(__file__).parent / "data" / "protocols"


def toy_data(n_per_class: int = 30, size: int = 8, seed: int = 0) -> FERData:
    rng = np.random.default_rng(seed)
    colours = rng.integers(40, 215, size=(len(TOY_CLASSES), 3))
    labels = np.repeat(np.arange(len(TOY_CLASSES)), n_per_class)
    images = colours[labels][:, None, None, :] + rng.normal(0, 25, (len(labels), size, size, 3))
    images = np.clip(images, 0, 255).astype(np.uint8)
    is_train = np.tile(np.arange(n_per_class) < int(0.75 * n_per_class), len(TOY_CLASSES))
    ids = tuple(f"{'train' if t else 'test'}_{i:04d}" for i, t in enumerate(is_train))
    return FERData("toy-blobs", TOY_CLASSES, images, labels, is_train, ids,
                   content_key(images.tobytes(), labels.tobytes()),
                   face_source=FaceSource(f"toy-grey-{size}px", partial(toy_faces, size=size)))


def toy_faces(n: int, size: int) -> np.ndarray:
    """Unlabelled toy 'faces': grey noise, no class colour."""
    return np.random.default_rng(n).integers(100, 156, (n, size, size, 3), dtype=np.uint8)


def toy_backbone(cache_dir: Path) -> Backbone:
    return Backbone("toy-pixels", torch.nn.Flatten(), input_size=8, mean=(0.5,) * 3, std=(0.25,) * 3,
                    feature_dim=192, weights_sha256="none")


def toy_cnn(cache_dir: Path, seed: int = 0) -> Backbone:
    """A randomly initialised SynthFaceCNN (fixed seed) on 8 px input: trainable last stage, for smoke tests."""
    from datasets.synthface.backbone.cnn import SynthFaceCNN
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = SynthFaceCNN().eval()
    name = "toy-cnn" if seed == 0 else f"toy-cnn-seed{seed}"
    return Backbone(name, model, input_size=8, mean=(0.5,) * 3, std=(0.25,) * 3,
                    feature_dim=SynthFaceCNN.feature_dim, weights_sha256=f"toy-cnn-seed{seed}",
                    trainable_prefixes=("stage4",), feature_map=SynthFaceCNN.feature_map, trunk=SynthFaceCNN.trunk,
                    tail=SynthFaceCNN.tail)


@dataclass
class ToyParams:
    sleep_s: float = 0.0


class ToySemiSupervised(Method):
    """Semi-supervised k-means on the toy pixels, after an optional sleep (to be killed mid-run in tests)."""

    Params = ToyParams

    def run(self, task) -> Predictions:
        time.sleep(self.params.sleep_s)
        feats = l2_normalise(task.frozen_features)
        result = semi_supervised_kmeans(feats[task.unlabelled_idx], KMeansConfig(task.n_classes, n_init=2),
                                        feats[task.labelled_idx], task.labelled_y)
        return Predictions({"unlabelled_train": result.labels, "test": result.assign(feats[task.test_idx])})


def register_toys() -> None:
    load_plugins()
    if "toy-blobs" not in DATASETS:
        add_toys()


def add_toys() -> None:
    """Register the toy plugins and protocols (the plugin packages must be loaded, or be loading)."""
    DATASETS.add("toy-blobs", lambda data_root, cache_dir: toy_data())
    BACKBONES.add("toy-pixels", toy_backbone)
    BACKBONES.add("toy-cnn", toy_cnn)
    BACKBONES.add("toy-cnn-seed1", lambda cache_dir: toy_cnn(cache_dir, seed=1))
    METHODS.add("toy-ss", ToySemiSupervised)
    for path in sorted(PROTOCOL_DIR.glob("*.yaml")):
        PROTOCOLS.add(path.stem, Protocol.from_file(path))

"""Choose the SynthFaceCNN pretraining objective by measurement.

``python -m datasets.synthface.tools.study`` pretrains one backbone per candidate objective on
expression-blind SynthFACE pretraining faces, then scores plain k-means (K = number of classes) on the
L2-normalised features of all train images of synthface-basic and synthface-compound with Hungarian-matched
accuracy, next to two floors: raw pixels and a randomly initialised SynthFaceCNN.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from datasets.synthface.backbone.cnn import SynthFaceCNN, render_pretraining_faces
from datasets.synthface.backbone.pretrain import DEFAULT_CONFIG, PretrainConfig, channel_stats, embed, seeded, train
from benchmark.core.paths import default_cache_dir
from benchmark.core.scorer import cluster_accuracy

DATASET_NAMES = ("synthface-basic", "synthface-compound")
# Equal compute: 8000 pretraining images, 500 steps of 128 single views or 250 steps of two views.
_STRONG = dict(n_images=8000, augmentation="strong", min_crop_area=0.5, n_identities=500)
CANDIDATES: dict[str, PretrainConfig] = {
    "identity": PretrainConfig(objective="classification", epochs=8, **_STRONG),
    "simclr": PretrainConfig(objective="simclr", epochs=4, **_STRONG),
    "identity+simclr": PretrainConfig(objective="classification+simclr", epochs=4, **_STRONG),
    "clip-contrast": DEFAULT_CONFIG,
}


def kmeans_accuracy(features: np.ndarray, labels: np.ndarray) -> float:
    """sklearn KMeans(K, n_init=10, random_state=0) on L2-normalised features, Hungarian accuracy (the scorer's)."""
    from sklearn.cluster import KMeans

    x = features.reshape(len(features), -1).astype(np.float32)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    k = len(np.unique(labels))
    return cluster_accuracy(labels, KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(x))


def train_pools(cache_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(images, labels) of the train split of each SynthFACE dataset."""
    from benchmark.plugin_discovery import load_plugins
    from benchmark.core.registry import DATASETS

    load_plugins()
    pools = {}
    for name in DATASET_NAMES:
        data = DATASETS.get(name)(None, cache_dir)
        mask = np.asarray(data.is_train, bool)
        pools[name] = np.asarray(data.images[mask]), data.labels[mask]
    return pools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.synthface.tools.study",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    args = parser.parse_args(argv)
    pools = train_pools(args.cache_dir)
    rows = []

    def score(name: str, seconds: float, featurise) -> None:
        accuracies = [100 * kmeans_accuracy(featurise(images), labels) for images, labels in pools.values()]
        rows.append([name, f"{seconds:.0f}", *[f"{a:.1f}" for a in accuracies]])
        print(tabulate(rows[-1:], tablefmt="plain"), flush=True)

    score("raw pixels", 0, lambda images: images.astype(np.float32) / 255.0)
    with seeded(DEFAULT_CONFIG.seed):
        random_net = SynthFaceCNN().eval()
    score("random-init CNN", 0, lambda images: embed(random_net, images, *channel_stats(images)))
    for name in args.candidates:
        config = CANDIDATES[name]
        start = time.perf_counter()
        faces, labels = render_pretraining_faces(config)
        result = train(SynthFaceCNN, faces, labels, config, desc=name)
        score(name, time.perf_counter() - start, lambda images: embed(result.model, images, result.mean, result.std))
    print(f"\nk-means Hungarian accuracy (%) on all train images; time = rendering + pretraining (s) with "
          f"{torch.get_num_threads()} torch threads")
    print(tabulate(rows, headers=["features", "time s", *DATASET_NAMES]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

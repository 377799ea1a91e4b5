"""Supervised oracle: SynthFaceCNN trained from scratch with ALL labels, to show the labels are learnable.

``python -m datasets.synthface.tools.oracle --out-dir DIR`` trains on the train split of synthface-basic and of
synthface-compound, prints test accuracy and the confusion matrix, writes DIR/oracle-confusion-<dataset>.png
and lists, for each compound class, the two classes it is most confused with next to its two components.
``--datasets synthface-v4-basic synthface-v4-compound`` does the same for expression model 4.
"""
from __future__ import annotations

import argparse
import io
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

from benchmark.core.atomic import write_bytes
from datasets.synthface.backbone.cnn import SynthFaceCNN
from datasets.synthface.backbone.pretrain import PretrainConfig, embed, train
from benchmark.core.errors import GFaceError
from benchmark.core.paths import default_cache_dir
from benchmark.core.registry import DATASETS
from benchmark.core.scorer import closed_set_scores, confusion_matrix
from datasets.synthface.action_units import COMPOUND_RECIPES
from datasets.synthface.expressions import PROTOTYPE
from datasets.synthface.loaders import NAMES as DATASET_NAMES
from datasets.synthface.loaders import VARIANTS

ORACLE_CONFIG = PretrainConfig(objective="classification", n_images=0, epochs=12, min_crop_area=0.8)


def most_confused(confusion: np.ndarray, row: int, k: int = 2) -> list[tuple[int, int]]:
    """The k classes most often confused with ``row`` in either direction, as (class, count), most first."""
    mixed = confusion[row] + confusion[:, row]
    mixed[row] = -1
    order = np.argsort(-mixed, kind="stable")[:k]
    return [(int(c), int(mixed[c])) for c in order]


def save_confusion_png(confusion: np.ndarray, class_names: tuple[str, ...], title: str, path: Path) -> None:
    """Row-normalised confusion matrix as a heat map (PNG), written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # imported here: slow, and only this command draws

    rates = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    size = 3 + 0.45 * len(class_names)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for (i, j), rate in np.ndenumerate(rates):
        if rate >= 0.005:
            ax.text(j, i, f"{100 * rate:.0f}", ha="center", va="center", fontsize=6,
                    color="white" if rate > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    write_bytes(path, buffer.getvalue())


def run_oracle(dataset_name: str, cache_dir: Path, out_dir: Path, config: PretrainConfig) -> float:
    """Train, evaluate and report on one dataset; returns test accuracy."""
    data = DATASETS.get(dataset_name)(None, cache_dir)
    train_mask = np.asarray(data.is_train, bool)
    train_images, train_labels = np.asarray(data.images[train_mask]), data.labels[train_mask]
    test_images, test_labels = np.asarray(data.images[~train_mask]), data.labels[~train_mask]
    start = time.perf_counter()
    result = train(SynthFaceCNN, train_images, train_labels, replace(config, n_images=len(train_images)),
                   desc=f"oracle {dataset_name}")
    seconds = time.perf_counter() - start
    with torch.no_grad():
        logits = result.head(torch.from_numpy(embed(result.model, test_images, result.mean, result.std)))
    predicted = logits.argmax(1).numpy()
    n_classes = len(data.class_names)
    confusion = confusion_matrix(test_labels, predicted, n_classes)
    accuracy = closed_set_scores(test_labels, predicted, n_known=n_classes)["closed_accuracy"]

    print(f"\n== {dataset_name}: {len(train_images)} train / {len(test_images)} test images, {n_classes} classes, "
          f"trained {seconds:.0f} s ({config.epochs} epochs)")
    print(f"test accuracy: {100 * accuracy:.2f} %")
    print("confusion matrix (rows: true class, columns: predicted class index)")
    print(tabulate([[f"{i} {name}", *row] for i, (name, row) in enumerate(zip(data.class_names, confusion))],
                   headers=["true \\ predicted", *map(str, range(n_classes))]))
    compound = [name for name in data.class_names if name in COMPOUND_RECIPES]
    if compound:
        rows = []
        for name in compound:
            row = data.class_names.index(name)
            pairs = [(data.class_names[c], n) for c, n in most_confused(confusion, row) if n > 0]
            parts = COMPOUND_RECIPES[name][:2]
            rows.append([name, *[f"{c} ({n})" for c, n in pairs] + ["-"] * (2 - len(pairs)), " + ".join(parts),
                         sum(c in parts for c, _ in pairs)])
        print("\ncompound classes: the two classes each is most confused with (test errors in either direction)")
        print(tabulate(rows, headers=["class", "1st", "2nd", "its components", "components among 1st/2nd"]))
    png = out_dir / f"oracle-confusion-{dataset_name}.png"
    save_confusion_png(confusion, data.class_names,
                       f"{dataset_name}: supervised oracle, test accuracy {100 * accuracy:.1f} %", png)
    print(f"confusion matrix written to {png}")
    return accuracy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.synthface.tools.oracle", description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True, help="folder for the confusion-matrix PNGs")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="dataset cache (default $GFACE_CACHE_DIR or .cache)")
    parser.add_argument("--epochs", type=int, default=ORACLE_CONFIG.epochs)
    parser.add_argument("--seed", type=int, default=ORACLE_CONFIG.seed)
    parser.add_argument("--datasets", nargs="+", choices=DATASET_NAMES,
                        default=[name for name, (_, model) in VARIANTS.items() if model == PROTOTYPE],
                        help="SynthFACE datasets to train on (default: the expression-model-3 pair)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    try:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        from benchmark.plugin_discovery import load_plugins
        load_plugins()
        config = replace(ORACLE_CONFIG, epochs=args.epochs, seed=args.seed)
        for name in args.datasets:
            run_oracle(name, args.cache_dir, args.out_dir, config)
    except GFaceError as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

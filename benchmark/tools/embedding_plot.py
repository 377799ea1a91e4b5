"""A run's unlabelled pool D_U in two dimensions, for people to look at.

    python -m benchmark.tools.embedding_plot runs/synthface-basic/kmeans/<run_id> --out embedding.png

Frozen-backbone features of D_U (a learning method's fine-tuned features are not kept), L2-normalised and projected
by PCA; left panel coloured by true class (known classes as circles, new classes as crosses), right panel by the
run's predicted cluster (``predictions.npz`` in the run folder).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from benchmark.core.errors import GFaceError  # noqa: E402
from benchmark.core.paths import PREDICTIONS, default_cache_dir  # noqa: E402
from benchmark.core.registry import PROTOCOLS  # noqa: E402
from benchmark.device import resolve_device  # noqa: E402
from benchmark.features import cached_features, l2_normalise  # noqa: E402
from benchmark.plugin_discovery import load_plugins  # noqa: E402
from benchmark.runner import Environment  # noqa: E402
from benchmark.splits import materialise  # noqa: E402


def embedding_figure(run_folder: Path, cache_dir: Path, data_root: Path | None, device: str = "cpu"):
    """The matplotlib figure of one finished run."""
    spec_path, predictions_path = run_folder / "spec.json", run_folder / PREDICTIONS
    if not spec_path.is_file() or not predictions_path.is_file():
        raise GFaceError(f"{run_folder} is not a finished run folder with {PREDICTIONS} (runs finished before the "
                         f"suite kept predictions lack it: run them again)")
    spec = json.loads(spec_path.read_text())
    load_plugins()
    protocol = PROTOCOLS.get(spec["protocol"])
    env = Environment(run_folder.parents[2], cache_dir, data_root, resolve_device(device))
    data = env.dataset(protocol.dataset)
    split = materialise(protocol, data, spec["split_seed"])
    features = cached_features(env.backbone(spec["backbone"]), data, cache_dir, env.device)
    xy = PCA(n_components=2, random_state=0).fit_transform(l2_normalise(features[split.unlabelled_idx]))
    with np.load(predictions_path, allow_pickle=False) as saved:
        clusters = saved["clusters_unlabelled_train"]
    fig, (truth_ax, predicted_ax) = plt.subplots(1, 2, figsize=(12, 5.5), sharex=True, sharey=True)
    colours = plt.get_cmap("tab20")
    for index, name in enumerate(protocol.class_names):
        rows = split.unlabelled_y == index
        truth_ax.scatter(*xy[rows].T, s=6, color=colours(index % 20), marker="o" if index < protocol.n_known else "x",
                         label=f"{name} ({'known' if index < protocol.n_known else 'new'})")
    predicted_ax.scatter(*xy.T, s=6, c=clusters % 20, cmap="tab20", vmin=0, vmax=19)
    truth_ax.set_title(f"{protocol.id}, D_U by true class")
    predicted_ax.set_title(f"{spec['method']}: predicted clusters")
    truth_ax.legend(fontsize=7, markerscale=2, loc="best")
    for ax in (truth_ax, predicted_ax):
        ax.set_xlabel("PC 1 of frozen features")
    truth_ax.set_ylabel("PC 2")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.embedding_plot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_folder", type=Path, help="runs/<protocol>/<method>/<run_id>/ of a finished run")
    parser.add_argument("--out", type=Path, default=Path("embedding.png"))
    parser.add_argument("--cache-dir", type=Path, default=None, help="as for the run (default: $GFACE_CACHE_DIR)")
    parser.add_argument("--data-root", type=Path, default=None, help="as for the run (real datasets)")
    args = parser.parse_args(argv)
    try:
        fig = embedding_figure(args.run_folder, args.cache_dir or default_cache_dir(), args.data_root)
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

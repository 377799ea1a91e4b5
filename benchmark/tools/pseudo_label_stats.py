"""How the closed-set model pseudo-labels each held-out class: the property Open-Set-FER relies on.

    python run_benchmark.py --methods msp --protocols 'synthface-basic-open-*' --seeds 3 --runs-dir runs/osfer
    python -m benchmark.tools.pseudo_label_stats --runs-dir runs/osfer

Open-Set-FER treats the pseudo-labels that a closed-set model gives open-class images as noisy labels, and its
detector relies on that noise being spread over the known classes (near-symmetric noise: no known class can absorb
the open class). For each finished closed-set run (``Predictions.closed_set``; default method ``msp``) on a
leave-one-class-out protocol, this reads its saved D_U predictions and the split's labels and reports, for the
open-class images of D_U: the normalised entropy of their predicted known classes (1 = spread evenly over the K_old
classes, 0 = all one class), the largest class share and which known class takes it. Mean over the runs per held-out
class. Reference on real data (datasets/synthface/README.md, "Open-class pseudo-labels"): the release's own
predicted labels of RAF-DB give entropy 0.86 and largest share 0.36.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.core.errors import GFaceError
from benchmark.core.paths import PREDICTIONS, default_cache_dir
from benchmark.core.registry import PROTOCOLS
from benchmark.device import resolve_device
from benchmark.plugin_discovery import load_plugins
from benchmark.runner import Environment
from benchmark.splits import materialise


def spread(predicted: np.ndarray, n_known: int) -> tuple[float, float, int]:
    """(normalised entropy, largest share, most predicted class) of predicted known-class indices."""
    shares = np.bincount(predicted, minlength=n_known)[:n_known] / max(len(predicted), 1)
    nonzero = shares[shares > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(n_known)) if n_known > 1 else 0.0
    return entropy, float(shares.max()), int(shares.argmax())


def run_stats(runs_dir: Path, method: str, cache_dir: Path, data_root: Path | None) -> pd.DataFrame:
    load_plugins()
    env = Environment(runs_dir, cache_dir, data_root, resolve_device("cpu"))
    rows = []
    for record_path in sorted(runs_dir.glob(f"*/{method}/*/record.json")):
        record = json.loads(record_path.read_text())
        protocol_id = record["protocol"]["id"]
        if not record["protocol"].get("open_class") or protocol_id not in PROTOCOLS.names():
            continue
        protocol = PROTOCOLS.get(protocol_id)
        split = materialise(protocol, env.dataset(protocol.dataset), record["seeds"]["split"])
        with np.load(record_path.parent / PREDICTIONS, allow_pickle=False) as saved:
            predicted = saved["clusters_unlabelled_train"]
        is_open = split.unlabelled_y >= protocol.n_known
        entropy, largest, to = spread(predicted[is_open], protocol.n_known)
        rows.append({"dataset": protocol.dataset, "open class": protocol.open_class, "entropy": entropy,
                     "largest share": largest, "taken by": protocol.class_names[to],
                     "open images": int(is_open.sum())})
    if not rows:
        raise GFaceError(f"no finished {method} runs on leave-one-class-out protocols under {runs_dir}; run the "
                         f"sweep in this tool's --help first")
    frame = pd.DataFrame(rows)
    return frame.groupby(["dataset", "open class"]).agg(
        entropy=("entropy", "mean"), entropy_std=("entropy", "std"), largest_share=("largest share", "mean"),
        taken_by=("taken by", lambda v: v.mode().iat[0]), runs=("entropy", "count"),
        open_images=("open images", "first")).reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.pseudo_label_stats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, required=True, help="where the closed-set runs are")
    parser.add_argument("--method", default="msp", help="a closed-set method whose runs to read (default msp)")
    parser.add_argument("--cache-dir", type=Path, help="as for the runs (default: $GFACE_CACHE_DIR or ./.cache)")
    parser.add_argument("--data-root", type=Path, help="as for the runs (real datasets)")
    args = parser.parse_args(argv)
    try:
        table = run_stats(args.runs_dir, args.method, args.cache_dir or default_cache_dir(), args.data_root)
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(tabulate(table, headers="keys", tablefmt="github", showindex=False, floatfmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

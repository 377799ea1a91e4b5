"""Recompute the collapse flag of finished runs written before record schema 3, from their saved predictions.

    python -m benchmark.tools.reflag_collapse --runs-dir runs

Records of schema 1 and 2 read the flag (one cluster holds >= 90 % of the set, or Old accuracy is 0) on D_U. Since
schema 3 it is read on the protocol's scored set, its first ``eval_sets`` entry: still D_U on GCD protocols, but the
Open-Set-FER pool (test images + open-class D_U) on leave-one-class-out protocols, where D_U is the one held-out
class. This tool re-derives the flag of every older record from its ``predictions.npz`` and the split (rebuilt from
the record's protocol and split seed and checked against its stored hash), and rewrites the record atomically as
schema 3 with only ``collapse`` changed; the earlier entry is kept as ``collapse.before_schema_3``. Nothing is
trained or scored again. A record whose protocol or split cannot be rebuilt is reported and left as it is.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmark.core import atomic
from benchmark.core.errors import GFaceError
from benchmark.core.paths import PREDICTIONS, default_cache_dir
from benchmark.core.registry import PROTOCOLS
from benchmark.device import resolve_device
from benchmark.plugin_discovery import load_plugins
from benchmark.runner import RECORD_SCHEMA, Environment
from benchmark.scoring import collapse
from benchmark.splits import materialise


def reflag(runs_dir: Path, cache_dir: Path, data_root: Path | None) -> tuple[list[Path], list[str]]:
    """(rewritten records, problems) over every finished run under ``runs_dir`` of a schema below 3."""
    load_plugins()
    env = Environment(runs_dir, cache_dir, data_root, resolve_device("cpu"))
    rewritten, problems = [], []
    for done in sorted(Path(runs_dir).glob("*/*/*/done")):
        path = done.parent / "record.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: unreadable ({exc}); delete {done.parent} to run it again")
            continue
        if record.get("schema", 0) >= 3:
            continue
        protocol_id, split_seed = record["protocol"]["id"], record["seeds"]["split"]
        if protocol_id not in PROTOCOLS.names():
            problems.append(f"{path}: protocol {protocol_id} is not a shipped protocol, so its split cannot be rebuilt")
            continue
        protocol = PROTOCOLS.get(protocol_id)
        if protocol.version != record["protocol"]["version"]:
            problems.append(f"{path}: protocol {protocol_id} is version {protocol.version} here, the run used "
                            f"{record['protocol']['version']}")
            continue
        split = materialise(protocol, env.dataset(protocol.dataset), split_seed)
        if split.sha256 != record["protocol"]["split_sha256"]:
            problems.append(f"{path}: the split of {protocol_id} seed {split_seed} differs from the run's")
            continue
        with np.load(done.parent / PREDICTIONS, allow_pickle=False) as saved:
            clusters = {key.removeprefix("clusters_"): saved[key] for key in saved.files if key.startswith("clusters_")}
        before = record.get("collapse")
        record["collapse"] = {**collapse(clusters, record["results"], split), "before_schema_3": before}
        record["schema"] = RECORD_SCHEMA
        atomic.write_json(path, record)
        rewritten.append(path)
    return rewritten, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.reflag_collapse", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", type=Path, required=True, help="the runs whose records to update")
    parser.add_argument("--cache-dir", type=Path, help="as for the runs (default: $GFACE_CACHE_DIR or ./.cache)")
    parser.add_argument("--data-root", type=Path, help="as for the runs (real datasets)")
    args = parser.parse_args(argv)
    if not args.runs_dir.is_dir():
        print(f"error: --runs-dir {args.runs_dir} is not a folder; pass the folder a sweep wrote its runs to",
              file=sys.stderr)
        return 2
    try:
        rewritten, problems = reflag(args.runs_dir, args.cache_dir or default_cache_dir(), args.data_root)
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    flagged = sum(json.loads(p.read_text())["collapse"]["collapsed"] for p in rewritten)
    print(f"{len(rewritten)} records recomputed ({flagged} collapsed), {len(problems)} left as they were")
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

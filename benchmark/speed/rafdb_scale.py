"""Feature extraction and the k-means baselines at RAF-DB basic's scale, through the suite's real code paths.

Images are synthetic (class-coloured noise, uint8, RAF-DB's aligned 100 x 100 px; 12,271 train + 3,068 test by
default) because RAF-DB is licence-gated; the times depend on the shapes, not on the pixels. Stages: extracting
and caching the features of every image (``benchmark.features.cached_features``: the test transform, the
backbone in eval mode, an atomic write), re-opening them from the cache, then each k-means method's ``run`` on the
rafdb-basic protocol's split (features from the cache; the method's own parameters, ``paper`` profile).
Without the weight file, ``--random-weights`` times the same architecture with random values (ViT-B/16, ResNet-18).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

from benchmark.device import resolve_device
from benchmark.features import cached_features
from benchmark.method import parse_overrides, resolve_params
from benchmark.plugin_discovery import load_plugins
from benchmark.core.registry import METHODS, PROTOCOLS
from benchmark.speed.report import publish, stopwatch
from benchmark.speed.synthetic import add_synthetic_arguments, load_backbone, synthetic_faces, synthetic_task


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmark.speed.rafdb_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=12_271, help="training images (RAF-DB basic: 12271)")
    parser.add_argument("--n-test", type=int, default=3_068, help="test images (RAF-DB basic: 3068)")
    parser.add_argument("--methods", nargs="+", default=["kmeans", "ss-kmeans"], help="frozen-feature methods")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                        help="override a method parameter, e.g. --set ss-kmeans.n_init=10")
    add_synthetic_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_plugins()
    device = resolve_device(args.device)
    protocol = PROTOCOLS.get(args.protocol)
    data = synthetic_faces(protocol.class_names, args.n_train, args.n_test, args.image_size)
    overrides = parse_overrides(args.overrides)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="gface-speed-") as tmp:
        cache = Path(tmp)
        backbone = load_backbone(args.backbone or protocol.backbone, cache, args.random_weights)
        with stopwatch(device) as extract:
            cached_features(backbone, data, cache, device)
        with stopwatch(device) as reopen:
            cached_features(backbone, data, cache, device)
        rows += [_row(f"extract + cache features ({backbone.name})", len(data), extract()),
                 _row("re-open cached features", len(data), reopen())]
        task = synthetic_task(protocol, data, backbone, cache, cache, device)
        for name in args.methods:
            method_class = METHODS.get(name)
            params = resolve_params(name, method_class, "paper", overrides.get(name, {}))
            with stopwatch(device) as run:
                info = method_class(params).run(task).info
            rows.append(_row(f"{name} run", len(task.unlabelled_idx), run()))
            reported = {k: info[k] for k in ("n_iter", "inertia") if k in info}
            notes.append(f"{name}: parameters {dataclasses.asdict(params)}; reported {reported}")
    notes += [f"synthetic images ({len(data)} = {args.n_train} train + {args.n_test} test, {args.image_size} px, "
             f"class-coloured noise) in {protocol.id}'s {len(protocol.class_names)} classes",
             f"backbone {backbone.name}" + (" with random weights" if args.random_weights else "")]
    publish(f"RAF-DB scale: features and k-means baselines ({device})", rows, device, args.json, notes)
    return 0


def _row(stage: str, images: int, seconds: float) -> dict:
    return {"stage": stage, "images": images, "seconds": seconds, "images / s": images / max(seconds, 1e-9)}


if __name__ == "__main__":
    sys.exit(main())

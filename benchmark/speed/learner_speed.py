"""Where a learning method's training step spends its time, and what the faster input pipelines gain.

On a real protocol (default: the embedded synthface-basic, split 0), each learning method trains for ``--epochs``
through the suite's trainer three ways, side by side in one process:

- **before**: fresh views, each view resized on its own (the trainer before the view-bank change);
- **fresh views**: fresh views, one resize shared by both views of a batch (bit-identical views, the default);
- **view bank V**: two of V stored trunk outputs per image (``benchmark/training/view_bank.py``); the bank's
  one-time build is timed on its own row (it is shared by every method, seed and budget with the same images).

Then one step of the method on a batch of ``--batch-size`` images is split into its parts: augmentation, the
frozen trunk (no graph), the trained block forward + backward, and the rest (heads, losses, optimiser).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from benchmark.core.paths import default_cache_dir
from benchmark.core.registry import BACKBONES, DATASETS, METHODS, PROTOCOLS
from benchmark.device import resolve_device
from benchmark.isolation import isolated_task
from benchmark.method import resolve_params
from benchmark.plugin_discovery import load_plugins
from benchmark.speed.report import publish
from benchmark.splits import materialise
from benchmark.training import backbone_training
from benchmark.training.augment import random_views, two_views
from benchmark.training.backbone_training import trainable_copy
from benchmark.training.finetune import train_mode
from benchmark.training.view_bank import load_view_bank

LEARNERS = ("gcd", "simgcd", "digface")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmark.speed.learner_speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=list(LEARNERS), help="learning methods (default: %(default)s)")
    parser.add_argument("--protocol", default="synthface-basic", help="a protocol whose data is at hand")
    parser.add_argument("--profile", default="cpu", help="method parameter profile (default: cpu)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs timed per pipeline (default 1)")
    parser.add_argument("--view-bank", type=int, default=16, help="stored views per image (default 16)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch of the step profile (default 128)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache with the dataset and backbone")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--json", type=Path, help="also write the throughput table and machine facts here (the step "
                                                  "table beside it, '-step-parts' appended)")
    return parser.parse_args(argv)


def two_views_resized_per_view(uint8, size, crop_pct, mean, std, generator):
    """The trainer's views before this change: the same crops, but each view resized on its own."""
    return torch.cat([random_views(uint8, size, crop_pct, mean, std, generator) for _ in range(2)])


def train_images_per_second(name: str, params, task) -> float:
    work = Path(tempfile.mkdtemp(prefix=f"gface-speed-{name}-"))  # fresh: no checkpoint to resume from
    result = METHODS.get(name)(params).run(dataclasses.replace(task, work_dir=work))
    return result.info["train"]["images_per_second"]


def timed_ms(function, repeats: int = 5) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats * 1000


def step_parts(task, batch_size: int, crop_pct: float) -> dict[str, float]:
    """Milliseconds per step of the backbone-side parts on one batch (two views of each image)."""
    backbone = task.backbone
    generator = torch.Generator().manual_seed(0)
    uint8 = torch.from_numpy(task.images[np.arange(batch_size)]).to(task.device)
    network = trainable_copy(backbone).to(task.device, memory_format=torch.channels_last)
    train_mode(network)
    views = two_views(uint8, backbone.input_size, crop_pct, backbone.mean, backbone.std, generator)
    with torch.no_grad():
        trunk_out = backbone.trunk(network, views)

    def trained_block():
        backbone.tail(network, trunk_out).sum().backward()

    return {"augmentation (two views)": timed_ms(lambda: two_views(uint8, backbone.input_size, crop_pct,
                                                                      backbone.mean, backbone.std, generator)),
            "frozen trunk (no graph)": timed_ms(lambda: backbone.trunk(network, views)),
            "trained block fwd + bwd": timed_ms(trained_block)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_plugins()
    device = resolve_device(args.device)
    cache = args.cache_dir or default_cache_dir()
    protocol = PROTOCOLS.get(args.protocol)
    data = DATASETS.get(protocol.dataset)(args.data_root, cache)
    split = materialise(protocol, data, 0)
    backbone = BACKBONES.get(protocol.backbone)(cache)
    rows, parts = [], []
    for name in args.methods:
        task, _ = isolated_task(protocol.id, data, split, backbone, method=name, seed=0, device=device,
                                cache_dir=cache, work_dir=Path(tempfile.mkdtemp()))
        params = resolve_params(name, METHODS.get(name), args.profile, {"epochs": str(args.epochs), "view_bank": "0"})
        bank_params = dataclasses.replace(params, view_bank=args.view_bank)
        t0 = time.perf_counter()
        load_view_bank(task.backbone, task.images, np.concatenate([task.labelled_idx, task.unlabelled_idx]),
                       args.view_bank, params.crop_pct, task.view_bank_dir, task.device)
        bank_seconds = time.perf_counter() - t0
        with mock.patch.object(backbone_training, "two_views", two_views_resized_per_view):
            before = train_images_per_second(name, params, task)
        fresh = train_images_per_second(name, params, task)
        banked = train_images_per_second(name, bank_params, task)
        rows.append({"method": name, "before (images/s)": before, "fresh views (images/s)": fresh,
                     f"view bank {args.view_bank} (images/s)": banked, "bank / before": banked / before,
                     "bank load or build (s)": bank_seconds})
        step_ms = 1000 * args.batch_size / fresh
        split_ms = step_parts(task, args.batch_size, params.crop_pct)
        parts.append({"method": name, **{k: round(v, 1) for k, v in split_ms.items()},
                      "heads, losses, optimiser": round(step_ms - sum(split_ms.values()), 1),
                      "whole step (fresh views)": round(step_ms, 1),
                      "whole step (view bank)": round(1000 * args.batch_size / banked, 1)})
    notes = [f"{protocol.id} split 0, {args.profile} profile, {args.epochs} epoch(s) per pipeline, backbone "
             f"{backbone.name}; the bank's build is one-time per (images, backbone, V, crop)"]
    publish(f"Learner training throughput ({device})", rows, device, args.json, notes)
    parts_json = args.json.with_name(f"{args.json.stem}-step-parts.json") if args.json else None
    publish(f"One training step of {args.batch_size} images, milliseconds ({device})", parts, device, parts_json,
            ["parts measured one by one on the same batch; 'heads, losses, optimiser' is the whole step (from the "
             "fresh-views throughput) minus the three parts"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

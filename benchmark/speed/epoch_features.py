"""The features a method re-extracts during training: the whole network against the tail on cached trunk outputs.

ORCA measures its mean uncertainty on D_U before every epoch and SelEx clusters D_L and D_U before every epoch, each
from test-transform features of the network being trained. With a view bank only the backbone's last block trains,
so ``features_during_training`` (``benchmark/training/backbone_training.py``) computes the frozen trunk's outputs once
and runs the tail alone at each call. On a real protocol (default: the embedded synthface-basic, split 0) this times
one call each way, side by side in one process, the one-time trunk pass, and checks that both give the same features
bit for bit.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.core.paths import default_cache_dir
from benchmark.core.registry import BACKBONES, DATASETS, PROTOCOLS
from benchmark.device import resolve_device
from benchmark.isolation import isolated_task
from benchmark.plugin_discovery import load_plugins
from benchmark.speed.learner_speed import timed_ms
from benchmark.speed.report import publish
from benchmark.splits import materialise
from benchmark.training.backbone_training import features_during_training, features_of, training_input


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmark.speed.epoch_features", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="synthface-basic", help="a protocol whose data is at hand")
    parser.add_argument("--view-bank", type=int, default=32, help="stored views per image (default 32)")
    parser.add_argument("--epochs", type=int, default=16, help="calls per run, for the saving per run (default 16)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per way (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a run of the suite)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache with the dataset and backbone")
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--json", type=Path, help="also write the table and machine facts here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_plugins()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cache = args.cache_dir or default_cache_dir()
    protocol = PROTOCOLS.get(args.protocol)
    data = DATASETS.get(protocol.dataset)(args.data_root, cache)
    backbone = BACKBONES.get(protocol.backbone)(cache)
    task, _ = isolated_task(protocol.id, data, materialise(protocol, data, 0), backbone, method="speed", seed=0,
                            device=device, cache_dir=cache, work_dir=Path(tempfile.mkdtemp()))
    inputs = training_input(task, 0.875, args.view_bank)
    rows = []
    for name, indices in [("D_U (ORCA's pass)", task.unlabelled_idx),
                          ("D_L and D_U (SelEx's clustering)",
                           np.concatenate([task.labelled_idx, task.unlabelled_idx]))]:
        start = time.perf_counter()
        cached = features_during_training(task, inputs, indices)
        trunk_seconds = time.perf_counter() - start
        whole_ms = timed_ms(lambda: features_of(task, inputs.network, indices), args.repeats)
        tail_ms = timed_ms(cached, args.repeats)
        rows.append({"rows": name, "images": len(indices), "whole network (ms)": round(whole_ms),
                     "tail on cached trunk (ms)": round(tail_ms), "whole / tail": whole_ms / tail_ms,
                     "one-time trunk pass (s)": trunk_seconds,
                     f"saved per {args.epochs}-epoch run (s)": (whole_ms - tail_ms) * args.epochs / 1000 - trunk_seconds,
                     "bit-identical": bool(np.array_equal(cached(), features_of(task, inputs.network, indices)))})
    publish(f"Features re-extracted during training ({device})", rows, device, args.json,
            [f"{protocol.id} split 0, backbone {backbone.name}, a view bank of {args.view_bank}; each call timed "
             f"{args.repeats} times after one warm-up call; 'saved per run' counts the one-time trunk pass"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput (images/s) of each learning method: the suite's data path against a classic one.

Ours: the shared trainer (``benchmark/training/trainer.py``) gathers uint8 images from the in-memory cache and makes
both augmented views of the whole batch on the device (``benchmark/training/augment.py``). Baseline (written here):
a ``torch.utils.data.DataLoader`` that opens and decodes one JPEG file per sample with PIL and applies torchvision
transforms per sample (the GCD release's "imagenet" train transform: bicubic resize to size / crop_pct, random
crop, horizontal flip, to-tensor, normalise; two views), with a weighted sampler of the same balance. Both run the
method's own network, loss and optimiser settings for one epoch of ``--steps`` iterations of ``--batch-size``
images; the method's evaluation after training is not timed. Images are synthetic (class-coloured noise) at RAF-DB's
100 px; JPEG files are written once, before timing.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from torchvision import transforms
from tqdm import tqdm

from benchmark.core.backbone import Backbone
from benchmark.device import resolve_device
from benchmark.core.errors import GFaceError
from benchmark.method import parse_overrides, resolve_params
from benchmark.plugin_discovery import load_plugins
from benchmark.core.registry import METHODS, PROTOCOLS
from benchmark.speed.report import publish
from benchmark.speed.synthetic import add_synthetic_arguments, load_backbone, synthetic_faces, synthetic_task
from benchmark.training.finetune import train_mode
from benchmark.training.view_bank import load_view_bank
from benchmark.training.optimisers import build_optimiser
from benchmark.training.trainer import Batch, TrainStats, optimiser_step


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmark.speed.training_throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["gcd", "simgcd", "digface"], help="learning methods")
    parser.add_argument("--steps", type=int, default=5, help="training iterations timed per method and pipeline")
    parser.add_argument("--batch-size", type=int, default=32, help="images per iteration (default 32)")
    parser.add_argument("--profile", default="paper", choices=["paper", "cpu"],
                        help="method parameter profile (head sizes matter for speed; default paper)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                        help="override a method parameter (epochs and batch_size are set by this script)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes of the baseline")
    parser.add_argument("--view-bank", type=int, default=0, metavar="V",
                        help="also time training from a view bank of V stored trunk outputs per image (its one-time "
                             "build is timed separately); 0 = not timed")
    parser.add_argument("--jpeg-quality", type=int, default=95)
    add_synthetic_arguments(parser)
    return parser.parse_args(argv)


class JpegTwoViews(Dataset):
    """One JPEG file per sample, decoded with PIL and transformed twice."""

    def __init__(self, paths: list[Path], labels: torch.Tensor, transform):
        self.paths, self.labels, self.transform = paths, labels, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        image = Image.open(self.paths[i]).convert("RGB")
        return self.transform(image), self.transform(image), self.labels[i]


def imagenet_train_transform(backbone: Backbone, crop_pct: float):
    size = backbone.input_size
    return transforms.Compose([
        transforms.Resize(int(size / crop_pct), interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.RandomCrop(size), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(backbone.mean, backbone.std)])


def dataloader_fit(files: list[Path], transform, workers: int):
    """A drop-in for ``trainer.fit`` whose batches come from per-sample JPEG decoding in a DataLoader."""

    def fit(model, step, make_views, labelled_idx, labelled_y, unlabelled_idx, optim, work_dir, seed, device,
            desc) -> TrainStats:
        model.to(device)
        optimizer, _ = build_optimiser(model, optim)  # one epoch: the schedule never steps
        rows = np.concatenate([labelled_idx, unlabelled_idx])
        labels = torch.cat([torch.as_tensor(labelled_y, dtype=torch.long),
                            torch.full((len(unlabelled_idx),), -1, dtype=torch.long)])
        weights = torch.cat([torch.ones(len(labelled_idx)),
                             torch.full((len(unlabelled_idx),), len(labelled_idx) / len(unlabelled_idx))])
        sampler = WeightedRandomSampler(weights, len(rows), generator=torch.Generator().manual_seed(seed))
        loader = DataLoader(JpegTwoViews([files[r] for r in rows], labels, transform), optim.batch_size,
                            sampler=sampler, drop_last=True, num_workers=workers, pin_memory=device.type == "cuda")
        autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
        n_images, t0 = 0, time.perf_counter()
        for epoch in range(optim.epochs):
            train_mode(model)
            for index, (view1, view2, y) in enumerate(tqdm(loader, desc=f"{desc} (DataLoader)", leave=False)):
                y = y.to(device)
                batch = Batch(torch.cat([view1, view2]).to(device, non_blocking=True), y, y >= 0, epoch,
                              epoch * len(loader) + index, optim.epochs * len(loader))
                with autocast:
                    loss, _ = step(model, batch)
                optimiser_step(model, optimizer, loss, optim.clip_grad_norm)
                n_images += len(y)
        seconds = time.perf_counter() - t0
        return TrainStats(optim.epochs, 0, round(seconds, 2), round(n_images / max(seconds, 1e-9), 1),
                          optim.batch_size, optim.batch_size, len(loader))

    return fit


def train_speed(method_class, params, task, module, fit_replacement) -> float:
    """Images/s of the method's training loop, through ``fit_replacement`` instead of the trainer if given."""
    patch = mock.patch.object(module, "fit", fit_replacement) if fit_replacement else contextlib.nullcontext()
    with patch:
        return method_class(params).run(task).info["train"]["images_per_second"]


def write_jpegs(images: np.ndarray, folder: Path, quality: int) -> list[Path]:
    paths = []
    for i, image in enumerate(tqdm(images, desc="writing JPEG files", leave=False)):
        paths.append(folder / f"{i:06d}.jpg")
        Image.fromarray(image).save(paths[-1], quality=quality)
    return paths


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_plugins()
    device = resolve_device(args.device)
    protocol = PROTOCOLS.get(args.protocol)
    data = synthetic_faces(protocol.class_names, args.steps * args.batch_size, 2 * len(protocol.class_names),
                           args.image_size)
    overrides = parse_overrides(args.overrides)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gface-speed-") as tmp:
        tmp = Path(tmp)
        backbone = load_backbone(args.backbone or protocol.backbone, tmp, args.random_weights)
        files = write_jpegs(data.images, tmp, args.jpeg_quality)
        for name in args.methods:
            method_class = METHODS.get(name)
            module = sys.modules[method_class.__module__]
            if not hasattr(module, "fit"):
                raise GFaceError(f"{name} does not train through benchmark.training.trainer.fit; pick a learning "
                                 f"method that does (gcd, simgcd, digface)")
            fresh = {"view_bank": "0"} if "view_bank" in {f.name for f in dataclasses.fields(method_class.Params)} \
                else {}  # both pipelines feed images; the bank is timed on its own
            params = resolve_params(name, method_class, args.profile, {
                **overrides.get(name, {}), "epochs": "1", "batch_size": str(args.batch_size), **fresh})
            crop_pct = getattr(params, "crop_pct", backbone.crop_pct)
            pipelines = {"uint8 cache + batch views": None, "JPEG + PIL DataLoader": dataloader_fit(
                files, imagenet_train_transform(backbone, crop_pct), args.workers)}
            speeds = {}
            for index, (pipeline, replacement) in enumerate(pipelines.items()):
                work = tmp / f"{name}-{index}"  # a fresh run folder: no checkpoint to resume from
                work.mkdir()
                task = synthetic_task(protocol, data, backbone, tmp, work, device)
                speeds[pipeline] = train_speed(method_class, params, task, module, replacement)
            (ours, baseline_speed) = speeds.values()
            row = {"method": name, **{f"{k} (images/s)": v for k, v in speeds.items()},
                   "speed-up": ours / max(baseline_speed, 1e-9)}
            if args.view_bank:
                work = tmp / f"{name}-bank"
                work.mkdir()
                task = synthetic_task(protocol, data, backbone, tmp, work, device)
                t0 = time.perf_counter()
                load_view_bank(task.backbone, task.images, np.concatenate([task.labelled_idx, task.unlabelled_idx]),
                               args.view_bank, crop_pct, task.view_bank_dir, task.device)
                row["view bank build (s)"] = time.perf_counter() - t0
                row[f"view bank {args.view_bank} (images/s)"] = train_speed(
                    method_class, dataclasses.replace(params, view_bank=args.view_bank), task, module, None)
            rows.append(row)
    notes = [f"{args.steps} iterations of {args.batch_size} images (two views each) per method and pipeline, "
             f"{args.profile} profile, backbone {backbone.name}"
             + (" with random weights" if args.random_weights else "") + f", {args.workers} DataLoader workers",
             f"synthetic {args.image_size} px images (class-coloured noise); baseline reads JPEG quality "
             f"{args.jpeg_quality} files written before timing"]
    publish(f"Training throughput ({device})", rows, device, args.json, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""View bank: the frozen trunk's output for V augmented views of each training image, computed once and cached
(benchmark/README.md, "View bank").

Methods that train only the backbone's last block spend most of a step running the frozen trunk on two fresh
augmented views. With a bank the trunk runs once per stored view: ``V`` "imagenet" views of every training image
(``augment.random_views``, a fixed seed) go through ``Backbone.trunk`` in eval mode and are stored as float16; each
training step then takes two different stored views of each image (chosen with the trainer's generator) and the
network starts at ``Backbone.tail``. What changes is the augmentation distribution: V fixed views per image
instead of a fresh pair every step (V and the bank's key go into the run record).

The bank of a set of images is stored in the order of the images' content hashes, so every run of a method on the
same training images, backbone weights, V and crop shares one file, whatever its per-run row order. The file is a
plain ``.npy`` (no pickle, no labels) in ``GCDTask.view_bank_dir`` (``<cache>/view-banks/``, shared by every
method), written atomically and read into memory.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from benchmark.core.backbone import Backbone
from benchmark.core.cached_arrays import cached_array
from benchmark.core.errors import GFaceError
from benchmark.core.keys import content_key
from benchmark.method import TaskShape
from benchmark.training.augment import random_views

BANK_VERSION = "view-bank/1"  # bump when what a key produces changes
BANK_SEED = 0  # the stored views' augmentation seed (training seeds choose among them)
STORAGE = np.float16


def check_view_bank(n_views: int, method_name: str) -> None:
    """A bank needs two different stored views per step; 0 means fresh views."""
    if n_views < 0 or n_views == 1:
        raise GFaceError(f"{method_name}.view_bank={n_views}: use 0 for fresh augmented views every step, or at "
                         f"least 2 stored views per image (e.g. {method_name}.view_bank=16)")


def require_trunk(shape: TaskShape, n_views: int, method_name: str) -> None:
    """For ``Method.check``: a bank needs a backbone that splits into trunk and tail."""
    if n_views and not shape.backbone_splits:
        raise GFaceError(f"{method_name}.view_bank={n_views}: backbone {shape.backbone!r} does not split into a "
                         f"frozen trunk and a trainable tail (Backbone.trunk/tail), so it cannot use a view bank; set "
                         f"{method_name}.view_bank=0")


class Tail(nn.Module):
    """The trainable part of a backbone network: maps a trunk output to the feature (``Backbone.tail``).

    Holds the whole network, so its parameters (only the last block trainable) are those the optimiser updates and
    the network is what extracts features after training."""

    def __init__(self, network: nn.Module, tail):
        super().__init__()
        self.network, self._tail = network, tail

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self._tail(self.network, h)


def distinct_pairs(n: int, n_views: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two different view indices in [0, n_views) for each of ``n`` images, uniform over ordered pairs."""
    first = torch.randint(0, n_views, (n,), generator=generator)
    return first, (first + torch.randint(1, n_views, (n,), generator=generator)) % n_views


@dataclass
class ViewBank:
    """``bank(rows, generator)``: (2B, ...) float32 trunk outputs on ``device``, two different stored views of each
    row (all first views, then all second views), as ``trainer.fit`` expects of its ``make_views``."""

    stored: np.ndarray  # (N_images, V, ...) float16, in content-hash order, in memory
    slot_of_row: np.ndarray  # task row -> index into ``stored`` (-1: not in the bank)
    key: str
    device: torch.device

    @property
    def n_views(self) -> int:
        return self.stored.shape[1]

    def __call__(self, rows: np.ndarray, generator: torch.Generator) -> torch.Tensor:
        slots = self.slot_of_row[rows]
        if (slots < 0).any():
            raise ValueError("view bank: a batch asked for an image that is not in the bank")
        first, second = distinct_pairs(len(rows), self.n_views, generator)
        pairs = np.concatenate([self.stored[slots, first.numpy()], self.stored[slots, second.numpy()]])
        return torch.from_numpy(pairs).to(self.device, dtype=torch.float32)

    def describe(self) -> dict:
        """What a run record keeps about the bank."""
        return {"views": self.n_views, "key": self.key, "images": len(self.stored), "dtype": self.stored.dtype.name}


def image_hashes(images, rows: np.ndarray, chunk: int = 1024) -> list[str]:
    """SHA-1 of each image's bytes (for the bank's order and key; not a security boundary)."""
    hashes = []
    for start in range(0, len(rows), chunk):
        for image in images[rows[start:start + chunk]]:
            hashes.append(hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest())
    return hashes


@torch.inference_mode()
def load_view_bank(backbone: Backbone, images, rows: np.ndarray, n_views: int, crop_pct: float, bank_dir: Path,
                   device: torch.device, batch_size: int = 256) -> ViewBank:
    """The bank of ``images[rows]`` (uint8 N x H x W x 3, task rows), read into memory from ``bank_dir`` or
    computed and stored there first."""
    if backbone.trunk is None or backbone.tail is None:
        raise GFaceError(f"backbone {backbone.name!r} does not split into a frozen trunk and a trainable tail "
                         f"(Backbone.trunk/tail), so it cannot use a view bank; set view_bank=0")
    rows = np.asarray(rows, dtype=np.int64)
    hashes = image_hashes(images, rows)
    order = np.argsort(np.asarray(hashes), kind="stable")
    key = content_key(BANK_VERSION, backbone.name, backbone.weights_sha256, "".join(hashes[i] for i in order),
                      f"{n_views}/{crop_pct}/{backbone.input_size}/{BANK_SEED}/{np.dtype(STORAGE).name}")
    stored = cached_array(  # in memory: random rows every step, and no file name to follow
        Path(bank_dir) / f"{backbone.name}-{key[:24]}.npy",
        lambda: _compute(backbone, images, rows[order], n_views, crop_pct, device, batch_size),
        f"view bank of {backbone.name}",
        lambda s: "" if s.ndim >= 3 and s.shape[1] == n_views else f"shape {s.shape}, expected ({len(rows)}, "
                                                                      f"{n_views}, ...)",
        dtype=STORAGE, length=len(rows))
    slot_of_row = np.full(len(images), -1, dtype=np.int64)
    slot_of_row[rows[order]] = np.arange(len(rows))
    return ViewBank(stored, slot_of_row, key, device)


def _compute(backbone: Backbone, images, rows: np.ndarray, n_views: int, crop_pct: float, device: torch.device,
             batch_size: int) -> np.ndarray:
    model = copy.deepcopy(backbone.model).to(device, memory_format=torch.channels_last).eval()  # ~1.6x on CPU
    generator = torch.Generator().manual_seed(BANK_SEED)
    stored = None
    bar = tqdm(total=n_views * len(rows), desc=f"view bank {backbone.name} ({n_views} views)", unit="view",
               leave=False)
    for view in range(n_views):
        for start in range(0, len(rows), batch_size):
            uint8 = torch.from_numpy(np.ascontiguousarray(images[rows[start:start + batch_size]])).to(device)
            x = random_views(uint8, backbone.input_size, crop_pct, backbone.mean, backbone.std, generator)
            h = backbone.trunk(model, x).float().cpu().numpy()
            if stored is None:
                stored = np.empty((len(rows), n_views) + h.shape[1:], dtype=STORAGE)
            stored[start:start + len(h), view] = h
            bar.update(len(h))
    bar.close()
    return stored

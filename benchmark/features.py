"""Frozen-backbone features: extracted once per (backbone, weights, dataset, transform), cached on disk; a cached
file that is damaged (cut short, another dtype or row count) is logged and extracted anew."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from benchmark.core.cached_arrays import cached_array
from benchmark.core.backbone import Backbone
from benchmark.core.data import FERData
from benchmark.core.keys import content_key

TRANSFORM_VERSION = "resize-bicubic-antialias+centre-crop+normalise/1"
FEATURES = "features"  # <cache_dir>/features/: frozen features, no labels in it
FEATURE_BATCH = 256  # images per forward pass of extract_features


def to_model_input(batch_uint8: torch.Tensor, backbone: Backbone) -> torch.Tensor:
    """Test transform on a uint8 (B, H, W, 3) batch of square images: resize to ``input_size / crop_pct``
    (bicubic, antialiased), centre-crop ``input_size``, normalise."""
    x = batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)
    resized = int(backbone.input_size / backbone.crop_pct)
    if x.shape[-1] != resized or x.shape[-2] != resized:
        x = F.interpolate(x, size=(resized, resized), mode="bicubic", antialias=True,
                          align_corners=False).clamp_(0.0, 1.0)
    offset = (resized - backbone.input_size) // 2
    x = x[..., offset:offset + backbone.input_size, offset:offset + backbone.input_size]
    mean = x.new_tensor(backbone.mean).view(1, 3, 1, 1)
    std = x.new_tensor(backbone.std).view(1, 3, 1, 1)
    return (x - mean) / std


def model_input_batches(backbone: Backbone, images: np.ndarray, rows: np.ndarray, device: torch.device,
                        batch_size: int = FEATURE_BATCH, progress: bool = False) -> Iterator[torch.Tensor]:
    """Test-transformed model inputs of ``images[rows]``, ``batch_size`` rows at a time, in row order."""
    starts = range(0, len(rows), batch_size)
    for start in tqdm(starts, desc=f"features {backbone.name}", unit="batch", disable=not progress, leave=False):
        batch = torch.from_numpy(np.ascontiguousarray(images[rows[start:start + batch_size]])).to(device)
        yield to_model_input(batch, backbone)


@torch.no_grad()
def extract_features(backbone: Backbone, images: np.ndarray, device: torch.device, rows: np.ndarray | None = None,
                     batch_size: int = FEATURE_BATCH, progress: bool = True) -> np.ndarray:
    """float32 (N, feature_dim) features of uint8 (N, H, W, 3) images (or of ``images[rows]``), model in eval mode."""
    model = backbone.model.to(device).eval()
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    out = np.empty((len(rows), backbone.feature_dim), dtype=np.float32)
    start = 0
    for x in model_input_batches(backbone, images, rows, device, batch_size, progress):
        out[start:start + len(x)] = model(x).float().cpu().numpy()
        start += len(x)
    return out


def cached_features(backbone: Backbone, data: FERData, cache_dir: Path, device: torch.device) -> np.ndarray:
    """Features of every image of ``data``, computed once and memory-mapped from the cache afterwards."""
    return features_in(backbone, data, Path(cache_dir) / FEATURES, device)


def features_in(backbone: Backbone, data: FERData, features_dir: Path, device: torch.device) -> np.ndarray:
    """``cached_features`` given the features folder itself (a task's closure holds it, not the cache root)."""
    key = content_key(backbone.name, backbone.weights_sha256, data.content_key, TRANSFORM_VERSION,
                      f"{backbone.input_size}/{backbone.crop_pct}")
    return cached_array(Path(features_dir) / f"{backbone.name}-{key[:24]}.npy",
                        lambda: extract_features(backbone, data.images, device),
                        f"features of {data.name} ({backbone.name})",
                        dtype=np.float32, ndim=2, length=len(data.images), mmap=True)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def max_cosine(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Knownness adapter: highest cosine similarity of each row of ``x`` to any of ``centres``."""
    return (l2_normalise(x) @ l2_normalise(centres).T).max(axis=1)

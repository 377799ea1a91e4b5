"""The contract of a registered backbone and safe loading of weight files."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch

from benchmark.core.errors import GFaceError, MissingFileError


@dataclass
class Backbone:
    """A feature extractor and the input it expects.

    ``model`` maps a float batch (B, 3, input_size, input_size), normalised with ``mean``/``std``, to
    (B, feature_dim) features. ``weights_sha256`` identifies the weights in run records and cache keys.
    ``trainable_prefixes`` names the parameters that partial fine-tuning unfreezes (e.g. the last block).
    ``feature_map(model, x)`` (optional) returns the last spatial map (B, feature_dim, H, W) of ``model`` (the
    backbone's network or a copy of it) for the same input; methods with class activation maps need it.
    ``trunk(model, x)`` and ``tail(model, h)`` (optional, together) split the forward pass at the first trainable
    layer: ``tail(model, trunk(model, x))`` equals ``model(x)``, ``trunk`` holds only frozen layers, so its output
    for a fixed input never changes during partial fine-tuning (the view bank, ``benchmark/training/view_bank.py``).
    The test transform resizes to ``input_size / crop_pct`` and centre-crops ``input_size`` (DINO: 256 -> 224).
    """

    name: str
    model: torch.nn.Module
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    feature_dim: int
    weights_sha256: str
    trainable_prefixes: tuple[str, ...] = ()
    crop_pct: float = 1.0
    feature_map: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None
    trunk: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None
    tail: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor] | None = None


class BackboneFactory(Protocol):
    """What ``BACKBONES.register(name)`` expects: ``factory(cache_dir) -> Backbone`` (weights loaded, eval mode)."""

    def __call__(self, cache_dir: Path) -> Backbone: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict(path: Path, *, what: str, obtain_from: str, advice: str | None = None) -> dict[str, torch.Tensor]:
    """Load a weight file from strangers safely (``weights_only=True``); one clear message if absent or bad.

    ``advice`` (e.g. ``WeightFile.advice()``) replaces the generic how-to-get-it sentence."""
    path = Path(path).expanduser()
    if not path.is_file():
        advice = advice or f"get it from {obtain_from} and put it there"
        raise MissingFileError(f"{what}: weight file {path} not found: {advice}. Nothing is downloaded unless "
                               f"you ask for it")
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head.startswith((b"PK", b"\x80")):  # torch.save writes a zip archive (or, before 1.6, a pickle)
        found = "is empty" if not head else f"begins with {head!r}, not as a zip archive or pickle"
        raise GFaceError(f"{what}: {path} is not a loadable PyTorch weight file: it {found} (a web page saved "
                         f"as the file, or the wrong path?). Get the file from {obtain_from}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling/format failure gets the same advice
        raise GFaceError(f"{what}: {path} is not a loadable PyTorch weight file, perhaps truncated "
                         f"({type(exc).__name__}: {str(exc)[:120]}). Re-download it from {obtain_from}") from exc

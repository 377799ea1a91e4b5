"""SynthFaceCNN: a small ResNet-like network for 48 px faces, pretrained without expression labels.

Registered as backbone ``synthface-cnn``, and as ``synthface-cnn-seed1``: the same architecture and objective
pretrained from seed 1 (other initialisation, other pretraining clips), a second expression-blind network for
methods that pair two (Open-Set-FER's detector). Their weights are the files shipped in ``weights/`` (pretrained by
this code and pinned by sha256, so every machine runs the same backbone; a cache file never shadows them, and one is
used only in their absence and only with the pinned hash). Other configurations are pretrained by clip contrast (see
``pretrain.py`` and datasets/synthface/README.md) on synthetic persons disjoint from the benchmark's and cached in
``<cache_dir>/backbones/synthface-cnn-<key>.pt``.
"""
from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from benchmark.core.atomic import write_bytes
from benchmark.core.backbone import Backbone, file_sha256, load_state_dict
from datasets.synthface.backbone.clips import render_face_clips
from datasets.synthface.backbone.pretrain import DEFAULT_CONFIG, PretrainConfig, train
from benchmark.core.errors import GFaceError
from benchmark.core.registry import BACKBONES
from benchmark.core.keys import content_key
from datasets.synthface.generate import GENERATOR_VERSION
from datasets.synthface.pretraining_faces import render_random_faces

ARCH_VERSION = "synthface-cnn/1"
INPUT_SIZE = 48
STAGE_WIDTHS = (32, 64, 128, 256)
FEATURE_DIM = STAGE_WIDTHS[-1]
LAST_STAGE = "stage4"
NAME = "synthface-cnn"
SHIPPED_WEIGHTS = Path(__file__).parent / "weights"  # pretrained weights committed with the code
SHIPPED_SHA256 = "5e2329a24cfaa94c730163810d7fcca0fcaa4f0dabb42fa436d8d9e1c3c32306"
SECOND_NAME = "synthface-cnn-seed1"
SECOND_CONFIG = dataclasses.replace(DEFAULT_CONFIG, seed=1)
SECOND_SHA256 = "2fa610a0481447f9ff6bd799daed99a3e804a09061690168c612853edc5ac89f"
SHIPPED = {DEFAULT_CONFIG: SHIPPED_SHA256, SECOND_CONFIG: SECOND_SHA256}  # configurations whose weights ship
MEAN_KEY, STD_KEY = "input_normalisation.mean", "input_normalisation.std"

FaceSource = Callable[[PretrainConfig], tuple[np.ndarray, np.ndarray]]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (projected when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class SynthFaceCNN(nn.Module):
    """Stem (3x3, 24 ch) then four stride-2 stages of one BasicBlock each (48→24→12→6→3 px), global average pool.

    ``forward`` maps (B, 3, 48, 48) to (B, 256) features; ``stage4`` is the last stage (partial fine-tuning).
    """

    feature_dim = FEATURE_DIM

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True))
        widths = (24,) + STAGE_WIDTHS
        for index in range(len(STAGE_WIDTHS)):
            self.add_module(f"stage{index + 1}", BasicBlock(widths[index], widths[index + 1], stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Everything before the last stage: (B, 128, 6, 6), frozen in partial fine-tuning."""
        return self.stage3(self.stage2(self.stage1(self.stem(x))))

    def tail(self, h: torch.Tensor) -> torch.Tensor:
        """The last stage and the pooling, from the trunk's output."""
        return self.pool(self.stage4(h)).flatten(1)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's (B, 256, 3, 3) map, whose spatial mean is the feature."""
        return self.stage4(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.feature_map(x)).flatten(1)


def weight_file(cache_dir: Path, config: PretrainConfig, generator_version: str) -> Path:
    """Cache path keyed by generator version, pretraining config (seed included) and architecture version."""
    key = content_key(generator_version, config.key_text(), ARCH_VERSION)[:16]
    return Path(cache_dir) / "backbones" / f"{NAME}-{key}.pt"


def load_backbone(path: Path, name: str = NAME) -> Backbone:
    """A Backbone (eval mode) from a cached weight file; one clear message if it is absent or unusable."""
    state = load_state_dict(path, what=f"backbone {NAME!r}",
                            obtain_from=f"a fresh pretraining: delete {path} and request {NAME!r} again")
    if not isinstance(state, dict) or MEAN_KEY not in state or STD_KEY not in state:
        raise GFaceError(f"backbone {NAME!r}: {path} is not a {NAME} weight file (no input normalisation). "
                         f"Delete it and request {NAME!r} again to pretrain it anew")
    mean, std = state.pop(MEAN_KEY), state.pop(STD_KEY)
    model = SynthFaceCNN()
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise GFaceError(f"backbone {NAME!r}: {path} does not match architecture {ARCH_VERSION} ({exc}). "
                         f"Delete it and request {NAME!r} again to pretrain it anew") from exc
    return Backbone(name=name, model=model.eval(), input_size=INPUT_SIZE,
                    mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std),
                    feature_dim=FEATURE_DIM, weights_sha256=file_sha256(path), trainable_prefixes=(LAST_STAGE,),
                    feature_map=SynthFaceCNN.feature_map, trunk=SynthFaceCNN.trunk, tail=SynthFaceCNN.tail)


def save_weights(model: SynthFaceCNN, mean: np.ndarray, std: np.ndarray, path: Path) -> None:
    """Write model weights plus the input normalisation atomically (temp file in the same folder, then rename)."""
    state = {**model.state_dict(), MEAN_KEY: torch.as_tensor(mean, dtype=torch.float32),
             STD_KEY: torch.as_tensor(std, dtype=torch.float32)}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes(path, buffer.getvalue())


def render_pretraining_faces(config: PretrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Expression-blind SynthFACE faces of persons disjoint from the benchmark's, with labels 0..C-1:
    clip ids (clip contrast) or identities (the other objectives)."""
    if config.objective == "clip-contrast":
        return render_face_clips(config.n_images // config.clip_length, config.clip_length, seed=config.seed,
                                 image_size=INPUT_SIZE, n_identities=config.n_identities)
    images, ids = render_random_faces(config.n_images, seed=config.seed, image_size=INPUT_SIZE,
                                      n_identities=config.n_identities)
    return images, np.unique(ids, return_inverse=True)[1]


def shipped_weights(config: PretrainConfig = DEFAULT_CONFIG) -> Path:
    """Where the committed weights of a shipped configuration would be (the file name carries their key)."""
    return SHIPPED_WEIGHTS / weight_file(SHIPPED_WEIGHTS, config, GENERATOR_VERSION).name


def build_backbone(cache_dir: Path, *, config: PretrainConfig = DEFAULT_CONFIG,
                   faces: FaceSource | None = None, generator_version: str | None = None,
                   use_shipped: bool = True, name: str = NAME) -> Backbone:
    """A shipped configuration: its pinned weights (``pinned_backbone``). Any other (or ``use_shipped=False``, a
    deliberate re-pretraining): the cached backbone, else pretrain and cache it.

    ``faces(config) -> (uint8 images n×48×48×3, labels)`` defaults to ``render_pretraining_faces``;
    ``generator_version`` (default: SynthFACE's) enters the cache key.
    """
    default = faces is None and config in SHIPPED and generator_version in (None, GENERATOR_VERSION)
    if faces is None:
        faces, generator_version = render_pretraining_faces, generator_version or GENERATOR_VERSION
    if generator_version is None:
        raise ValueError("generator_version is required with a custom face source")
    path = weight_file(cache_dir, config, generator_version)
    if default and use_shipped:
        return pinned_backbone(config, path, name)
    if not path.exists():
        images, labels = faces(config)
        result = train(SynthFaceCNN, images, labels, config, desc=f"pretraining {name}")
        save_weights(result.model, result.mean, result.std, path)
    return load_backbone(path, name)


def pinned_backbone(config: PretrainConfig, cache_path: Path, name: str) -> Backbone:
    """The shipped file when present (a cache file never shadows it), else a cache file; either must have the pinned
    sha256. Nothing is pretrained: a fresh pretraining gives other weights on another machine, hence other numbers."""
    shipped = shipped_weights(config)
    restore = f"restore {shipped} (git checkout, or reinstall gface-bench: the package carries it)"
    path = shipped if shipped.exists() else cache_path
    if not path.exists():
        raise GFaceError(f"backbone {name!r}: its shipped weight file {shipped} is missing; {restore}. A fresh "
                         f"pretraining would give other weights than the pinned ones ({SHIPPED[config][:12]}…); "
                         f"to compare one on purpose: python -m datasets.synthface.tools.pretrain_backbone")
    backbone = load_backbone(path, name)
    if backbone.weights_sha256 != SHIPPED[config]:
        found = f"(sha256 {backbone.weights_sha256[:12]}…, pinned {SHIPPED[config][:12]}…)"
        if path == shipped:
            raise GFaceError(f"backbone {name!r}: the shipped weight file {shipped} is damaged {found}; {restore}")
        raise GFaceError(f"backbone {name!r}: the cached weight file {path} holds other weights than the pinned "
                         f"ones {found}, e.g. a pretraining on another machine, and the shipped file is missing; "
                         f"{restore}, or delete {path}")
    return backbone


@BACKBONES.register(NAME)
def synthface_cnn(cache_dir: Path) -> Backbone:
    """The expression-blind SynthFACE backbone (its shipped, pinned weights)."""
    return build_backbone(cache_dir)


@BACKBONES.register(SECOND_NAME)
def synthface_cnn_seed1(cache_dir: Path) -> Backbone:
    """A second expression-blind SynthFACE backbone: synthface-cnn's pretraining from seed 1."""
    return build_backbone(cache_dir, config=SECOND_CONFIG, name=SECOND_NAME)

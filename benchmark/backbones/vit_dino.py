"""DINO ViT-B/16 (Caron et al., ICCV 2021) on timm's architecture, weights from a local file
(benchmark/backbones/README.md).

Feature: the CLS token after the final LayerNorm (768-d). Partial fine-tuning unfreezes ``blocks.11`` only.
Feature map (class activation maps): the 14x14 patch tokens after the final LayerNorm.
"""
from __future__ import annotations

from pathlib import Path

import timm

from benchmark.backbones.vit import vit_backbone
from benchmark.core.backbone import Backbone, load_state_dict
from benchmark.core.errors import GFaceError
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WeightFile, register_weight_file, verify

WEIGHTS_ENV = "GFACE_DINO_VITB16"
WEIGHTS_FILE = "dino_vitbase16_pretrain.pth"
URL = "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth"
OBTAIN_FROM = f"facebookresearch/dino (ViT-B/16 'backbone only' checkpoint, {URL})"
WEIGHTS = register_weight_file(WeightFile("vit_b16_dino", WEIGHTS_ENV, WEIGHTS_FILE, OBTAIN_FROM, URL))  # sha256 unknown
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def weights_path(cache_dir: Path) -> Path:
    """``$GFACE_DINO_VITB16`` if set, else ``<cache_dir>/weights/dino_vitbase16_pretrain.pth``."""
    return WEIGHTS.path(cache_dir)


@BACKBONES.register("vit_b16_dino")
def vit_b16_dino(cache_dir: Path) -> Backbone:
    """DINO ViT-B/16, CLS feature after the final LayerNorm; weights from a local file."""
    path = weights_path(cache_dir)
    state = load_state_dict(path, what="backbone vit_b16_dino", obtain_from=OBTAIN_FROM, advice=WEIGHTS.advice())
    digest = verify(WEIGHTS, path)  # no hash is pinned yet: the check starts when one is
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0, global_pool="token")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or [k for k in unexpected if not k.startswith("head")]:
        raise GFaceError(f"{path} does not hold DINO ViT-B/16 weights: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}. Use the backbone-only checkpoint from {OBTAIN_FROM}")
    return vit_backbone("vit_b16_dino", model, digest, mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875)

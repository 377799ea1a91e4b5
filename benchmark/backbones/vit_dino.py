"""DINO ViT-B/16 (Caron et al., ICCV 2021) on timm's architecture, weights from a local file
(benchmark/backbones/README.md).

Feature: the CLS token after the final LayerNorm (768-d). Partial fine-tuning unfreezes ``blocks.11`` only.
Feature map (class activation maps): the 14x14 patch tokens after the final LayerNorm.
"""
from __future__ import annotations

import math
from pathlib import Path

import timm
import torch

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


def patch_token_map(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, 768, 14, 14): the patch tokens after the final LayerNorm, laid out on their grid."""
    tokens = model.forward_features(x)[:, model.num_prefix_tokens:]
    side = math.isqrt(tokens.shape[1])
    return tokens.transpose(1, 2).reshape(len(x), -1, side, side)


def vit_trunk(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Tokens after the embedding and every block but the last (B, 197, 768): the frozen part."""
    x = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(x))))
    return model.blocks[:-1](x)


def vit_tail(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The last block, the final LayerNorm and the CLS pooling, from the trunk's tokens."""
    return model.forward_head(model.norm(model.blocks[-1](tokens)))


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
    return Backbone(name="vit_b16_dino", model=model.eval(), input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                    feature_dim=768, weights_sha256=digest, trainable_prefixes=("blocks.11.",),
                    crop_pct=0.875, feature_map=patch_token_map, trunk=vit_trunk, tail=vit_tail)

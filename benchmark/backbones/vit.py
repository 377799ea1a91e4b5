"""What every ViT backbone on timm's ``VisionTransformer`` shares: the trunk/tail split, the patch-token map, the
check of a converted state dict and the ``Backbone`` record (benchmark/backbones/README.md).

The feature is the CLS token after the final LayerNorm; partial fine-tuning unfreezes the last block only (the
GCD/SimGCD releases' ``grad_from_block = 11``); the trunk is everything before that block.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from benchmark.core.backbone import Backbone
from benchmark.core.errors import GFaceError
from benchmark.core.weights import WeightFile, check_state_keys


def patch_token_map(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(B, D, side, side): the patch tokens after the final LayerNorm, laid out on their grid (14x14 for 16-px
    patches at 224 px, 16x16 for 14-px patches)."""
    tokens = model.forward_features(x)[:, model.num_prefix_tokens:]
    side = math.isqrt(tokens.shape[1])
    return tokens.transpose(1, 2).reshape(len(x), -1, side, side)


def vit_trunk(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Tokens after the embedding (and CLIP's pre-LayerNorm) and every block but the last: the frozen part."""
    x = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(x))))
    return model.blocks[:-1](x)


def vit_tail(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The last block, the final LayerNorm and the CLS pooling, from the trunk's tokens."""
    return model.forward_head(model.norm(model.blocks[-1](tokens)))


def load_exactly(model: torch.nn.Module, state: dict, source: WeightFile, path: Path, architecture: str) -> None:
    """Load ``state`` into ``model``; any missing, unexpected or misshapen key is one error listing them."""
    check_state_keys(model.state_dict(), state, source, path, architecture)
    model.load_state_dict(state)


def tensor_dict(checkpoint: object, source: WeightFile, path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint as a dict of tensors (unwrapped from ``state_dict`` if needed), else one clear error."""
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GFaceError(f"backbone {source.name}: {path} holds no state dict (a dict of tensors). Get the right "
                         f"file from {source.obtain_from}")
    return state


def vit_backbone(name: str, model: torch.nn.Module, digest: str, *, mean: tuple[float, float, float],
                 std: tuple[float, float, float], crop_pct: float) -> Backbone:
    """The ``Backbone`` record of a timm ViT (eval mode): CLS feature, last block trainable, trunk/tail split."""
    return Backbone(name=name, model=model.eval(), input_size=model.patch_embed.img_size[0], mean=mean, std=std,
                    feature_dim=model.num_features, weights_sha256=digest,
                    trainable_prefixes=(f"blocks.{len(model.blocks) - 1}.",), crop_pct=crop_pct,
                    feature_map=patch_token_map, trunk=vit_trunk, tail=vit_tail)

"""DINOv2 ViT-B/14 (Oquab et al., TMLR 2024) on timm's ``vit_base_patch14_dinov2``; weights: timm's copy of
Meta's LVD-142M release, pinned by sha256 (benchmark/backbones/README.md).

Input 224 px, ImageNet mean/std, test transform resize 256 + centre crop 224 (DINOv2's evaluation transform):
16x16 patches of 14 px. The release's position embeddings are for 518 px (37x37); they are resampled once at load
time to 16x16 exactly as DINOv2's ``interpolate_pos_encoding`` does at 224 px. Feature: the CLS token after the final
LayerNorm (768-d), DINOv2's k-NN/linear-probe feature. Partial fine-tuning unfreezes the last block only.
"""
from __future__ import annotations

from pathlib import Path

import timm
import torch
import torch.nn.functional as F

from benchmark.backbones.vit import load_exactly, tensor_dict, vit_backbone
from benchmark.backbones.vit_dino import IMAGENET_MEAN, IMAGENET_STD
from benchmark.core.backbone import Backbone
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WEIGHT_FILES, WeightFile, load_pinned, register_weight_file

ARCHITECTURE = "vit_base_patch14_dinov2"
INPUT_SIZE = 224
CROP_PCT = 0.875  # DINOv2's make_classification_eval_transform: Resize(256) + CenterCrop(224)
POS_OFFSET = 0.1  # DINOv2's interpolate_offset: the scale factor is (grid + 0.1) / released grid
URL = "https://huggingface.co/timm/vit_base_patch14_dinov2.lvd142m/resolve/main/pytorch_model.bin"
SHA256 = "c8f07b5edc5f37f0ec8205fd8777d8c594281d05fc7abd4569f273ea3838e4d6"  # the Hub's Git LFS oid of that file
WEIGHTS = register_weight_file(WeightFile(
    "vit_b14_dinov2", "GFACE_DINOV2_VITB14", "vit_base_patch14_dinov2.lvd142m.bin",
    f"the Hugging Face Hub, timm/vit_base_patch14_dinov2.lvd142m (pytorch_model.bin, timm's conversion of "
    f"facebookresearch/dinov2's ViT-B/14 'backbone only' checkpoint; {URL})", URL, sha256=SHA256))


def resample_position_embedding(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """(1, 1 + G*G, D) -> (1, 1 + grid*grid, D): the CLS position kept, the G x G patch positions resampled
    bicubically with DINOv2's scale factor ``(grid + 0.1) / G`` and no antialiasing, as its ViT does on the fly."""
    cls_position, patches = pos_embed[:, :1], pos_embed[:, 1:]
    released = round(patches.shape[1] ** 0.5)
    if released == grid or released * released != patches.shape[1]:
        return pos_embed  # already the model's grid, or not a square grid (load_exactly names the mismatch)
    scale = (grid + POS_OFFSET) / released
    image = patches.reshape(1, released, released, -1).permute(0, 3, 1, 2).float()
    image = F.interpolate(image, scale_factor=(scale, scale), mode="bicubic", antialias=False)
    return torch.cat([cls_position, image.permute(0, 2, 3, 1).reshape(1, grid * grid, -1).to(pos_embed.dtype)], 1)


def build_dinov2(source: WeightFile, cache_dir: Path, **architecture) -> Backbone:
    """A DINOv2 ViT Backbone (eval mode) with the weights of ``source``; ``architecture`` overrides timm's
    ``vit_base_patch14_dinov2`` arguments (tests build a small one)."""
    checkpoint, path, digest = load_pinned(source, cache_dir)
    model = timm.create_model(ARCHITECTURE, pretrained=False, img_size=INPUT_SIZE, num_classes=0,
                              global_pool="token", **architecture)
    state = dict(tensor_dict(checkpoint, source, path))
    if "pos_embed" in state:
        state["pos_embed"] = resample_position_embedding(state["pos_embed"], model.patch_embed.grid_size[0])
    load_exactly(model, state, source, path, "DINOv2 ViT (timm layout)")
    return vit_backbone(source.name, model, digest, mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=CROP_PCT)


@BACKBONES.register(WEIGHTS.name)
def vit_b14_dinov2(cache_dir: Path) -> Backbone:
    """DINOv2 ViT-B/14 (LVD-142M), CLS feature after the final LayerNorm (768-d); sha256-pinned Hub weights."""
    return build_dinov2(WEIGHT_FILES.get(WEIGHTS.name), cache_dir)

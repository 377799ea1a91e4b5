"""CLIP ViT-B/16 image tower (Radford et al., ICML 2021) on timm's ``vit_base_patch16_clip_quickgelu_224``;
weights: OpenAI's release on the Hugging Face Hub, pinned by sha256 (benchmark/backbones/README.md).

Input 224 px, OpenAI's mean/std, test transform resize 224 + centre crop 224 (CLIP's own preprocessing), QuickGELU
activations as trained. Feature: the CLS token after ``ln_post`` (768-d), before the 512-d image-text projection --
the feature the CLIP paper's linear probes use; the projection and the text tower are not loaded. Partial fine-tuning
unfreezes the last block only.
"""
from __future__ import annotations

from pathlib import Path

import timm
import torch

from benchmark.backbones.vit import load_exactly, tensor_dict, vit_backbone
from benchmark.core.backbone import Backbone
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WEIGHT_FILES, WeightFile, load_pinned, register_weight_file

ARCHITECTURE = "vit_base_patch16_clip_quickgelu_224"
OPENAI_MEAN, OPENAI_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
CROP_PCT = 1.0  # CLIP's preprocess: Resize(224) + CenterCrop(224)
URL = "https://huggingface.co/openai/clip-vit-base-patch16/resolve/main/pytorch_model.bin"
SHA256 = "ec89c7b09c749a60aae3c9cd910516f24b58214a7df060b48962d14c469cfbf0"  # the Hub's Git LFS oid of that file
WEIGHTS = register_weight_file(WeightFile(
    "vit_b16_clip", "GFACE_CLIP_VITB16", "openai-clip-vit-base-patch16.bin",
    f"the Hugging Face Hub, openai/clip-vit-base-patch16 (pytorch_model.bin, OpenAI's CLIP ViT-B/16 in the "
    f"transformers layout; {URL})", URL, sha256=SHA256))

VISION = "vision_model."
TOP_LEVEL = (  # transformers CLIPVisionTransformer -> timm VisionTransformer, after the "vision_model." prefix
    ("embeddings.patch_embedding.", "patch_embed.proj."),
    ("pre_layrnorm.", "norm_pre."),  # sic: the transformers name
    ("post_layernorm.", "norm."),
    ("encoder.layers.", "blocks."),
)
IN_BLOCK = ((".layer_norm1.", ".norm1."), (".layer_norm2.", ".norm2."), (".self_attn.", ".attn."),
            (".attn.out_proj.", ".attn.proj."))  # mlp.fc1 / mlp.fc2 keep their names
QKV = ("q_proj", "k_proj", "v_proj")  # timm's fused qkv stacks them in this order
SKIPPED = ("embeddings.position_ids",)  # a buffer of indices, not a weight


def _rename(key: str, inverse: bool = False) -> str:
    for old, new in TOP_LEVEL:
        old, new = (new, old) if inverse else (old, new)
        if key.startswith(old):
            key = new + key[len(old):]
            break
    for old, new in reversed(IN_BLOCK) if inverse else IN_BLOCK:
        key = key.replace(new, old) if inverse else key.replace(old, new)
    return key


def timm_state(transformers_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The image tower of a transformers ``CLIPModel`` state dict in timm's layout; the text tower, the projections
    and ``logit_scale`` are dropped. A layer lacking one of q/k/v gets no ``qkv`` (``load_exactly`` names it)."""
    state, split = {}, {}
    for key, value in transformers_state.items():
        if not key.startswith(VISION) or key[len(VISION):] in SKIPPED:
            continue
        key = _rename(key[len(VISION):])
        if key == "embeddings.class_embedding":
            state["cls_token"] = value.reshape(1, 1, -1)
        elif key == "embeddings.position_embedding.weight":
            state["pos_embed"] = value.unsqueeze(0)
        elif key.rsplit(".", 2)[-2] in QKV:
            prefix, name, kind = key.rsplit(".", 2)
            split.setdefault(f"{prefix}.qkv.{kind}", {})[name] = value
        else:
            state[key] = value
    state.update({key: torch.cat([parts[name] for name in QKV]) for key, parts in split.items()
                  if len(parts) == len(QKV)})
    return state


def transformers_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The inverse of ``timm_state`` for a timm CLIP ViT (``vision_model.*`` keys only): the weight file's layout,
    for random-weight stand-ins and tests."""
    inverse = {}
    for key, value in model.state_dict().items():
        if key == "cls_token":
            inverse["embeddings.class_embedding"] = value.reshape(-1)
        elif key == "pos_embed":
            inverse["embeddings.position_embedding.weight"] = value[0]
        elif ".attn.qkv." in key:
            prefix, kind = key.split(".qkv.")
            for name, part in zip(QKV, value.chunk(len(QKV))):
                inverse[_rename(f"{prefix}.{name}.{kind}", inverse=True)] = part
        else:
            inverse[_rename(key, inverse=True)] = value
    return {VISION + key: value.clone() for key, value in inverse.items()}


def build_clip(source: WeightFile, cache_dir: Path, **architecture) -> Backbone:
    """A CLIP ViT image-tower Backbone (eval mode) with the weights of ``source``; ``architecture`` overrides timm's
    ``vit_base_patch16_clip_quickgelu_224`` arguments (tests build a small one)."""
    checkpoint, path, digest = load_pinned(source, cache_dir)
    model = timm.create_model(ARCHITECTURE, pretrained=False, num_classes=0, global_pool="token", **architecture)
    load_exactly(model, timm_state(tensor_dict(checkpoint, source, path)), source, path,
                 "a CLIP ViT image tower (transformers layout, vision_model.*)")
    return vit_backbone(source.name, model, digest, mean=OPENAI_MEAN, std=OPENAI_STD, crop_pct=CROP_PCT)


@BACKBONES.register(WEIGHTS.name)
def vit_b16_clip(cache_dir: Path) -> Backbone:
    """OpenAI CLIP ViT-B/16 image tower, CLS feature after ln_post (768-d, before the projection); sha256-pinned."""
    return build_clip(WEIGHT_FILES.get(WEIGHTS.name), cache_dir)

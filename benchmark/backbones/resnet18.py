"""torchvision ResNet-18 backbones of the FER literature, weights from local files (benchmark/backbones/README.md).

``resnet18_msceleb``: face-recognition pretraining on MS-Celeb-1M, the checkpoint RUL, EAC, Open-Set-FER and MEK
start from. ``resnet18_imagenet``: torchvision's ImageNet weights. Feature: the global-average-pooled 512-d output
of ``layer4`` (the classifier ``fc`` is dropped). Partial fine-tuning unfreezes ``layer4`` only.
Faces are aligned crops, so the test transform resizes straight to 224 px (``crop_pct`` 1.0), as in those papers.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models.resnet import BasicBlock, ResNet

from benchmark.core.backbone import Backbone
from benchmark.backbones.vit_dino import IMAGENET_MEAN, IMAGENET_STD
from benchmark.core.errors import GFaceError
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WEIGHT_FILES, WeightFile, check_state_keys, load_pinned, register_weight_file

INPUT_SIZE = 224
FEATURE_DIM = 512
LAST_STAGE = "layer4."
_OPTIONAL_KEY_SUFFIX = "num_batches_tracked"  # absent from checkpoints saved before PyTorch 0.4.1


class ResNet18Features(ResNet):
    """torchvision ResNet-18 without its classifier: ``forward`` maps (B, 3, H, W) to (B, 512) pooled features;
    ``feature_map`` gives the last stage's (B, 512, H/32, W/32) map (7x7 at 224 px; class activation maps)."""

    def __init__(self):
        super().__init__(BasicBlock, [2, 2, 2, 2])
        del self.fc

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Everything before ``layer4`` (frozen in partial fine-tuning): (B, 256, H/16, W/16)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer3(self.layer2(self.layer1(x)))

    def tail(self, h: torch.Tensor) -> torch.Tensor:
        """``layer4`` and the pooling, from the trunk's output."""
        return torch.flatten(self.avgpool(self.layer4(h)), 1)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer4(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.feature_map(x)), 1)


MSCELEB = register_weight_file(WeightFile(  # shared from Google Drive / Baidu folders: no URL to fetch from
    "resnet18_msceleb", "GFACE_RESNET18_MSCELEB", "resnet18_msceleb.pth",
    "the download links in the READMEs of FER code releases such as yaoing/DAN and "
    "zyh-uaiaaaa/Relative-Uncertainty-Learning (a dict with the weights under 'state_dict')"))
IMAGENET_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
IMAGENET = register_weight_file(WeightFile(  # the pin: the sha256 prefix torchvision's file name carries
    "resnet18_imagenet", "GFACE_RESNET18_IMAGENET", "resnet18-f37072fd.pth",
    f"torchvision (ResNet18_Weights.IMAGENET1K_V1, {IMAGENET_URL})", IMAGENET_URL, sha256="f37072fd"))


def trunk_state(checkpoint: object, model: torch.nn.Module, source: WeightFile, path: Path) -> dict:
    """The checkpoint's weights for ``model``: unwrapped from ``state_dict``, ``module.`` prefixes stripped,
    ``fc.*`` dropped; any other missing, unexpected or misshapen key is an error that lists them."""
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GFaceError(f"backbone {source.name}: {path} holds no ResNet-18 state dict (a dict of tensors, "
                         f"possibly under 'state_dict'). Get the right file from {source.obtain_from}")
    state = {key.removeprefix("module."): value for key, value in state.items()}
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    check_state_keys(model.state_dict(), state, source, path, "torchvision ResNet-18",
                     optional_suffix=_OPTIONAL_KEY_SUFFIX)
    return state


def build_backbone(source: WeightFile, cache_dir: Path) -> Backbone:
    """A ResNet-18 Backbone (eval mode) with the weights of ``source``; one clear message if they are unusable."""
    checkpoint, path, digest = load_pinned(source, cache_dir)
    model = ResNet18Features()
    model.load_state_dict(trunk_state(checkpoint, model, source, path), strict=False)
    return Backbone(name=source.name, model=model.eval(), input_size=INPUT_SIZE, mean=IMAGENET_MEAN,
                    std=IMAGENET_STD, feature_dim=FEATURE_DIM, weights_sha256=digest,
                    trainable_prefixes=(LAST_STAGE,), feature_map=ResNet18Features.feature_map,
                    trunk=ResNet18Features.trunk, tail=ResNet18Features.tail)


@BACKBONES.register(MSCELEB.name)
def resnet18_msceleb(cache_dir: Path) -> Backbone:
    """ResNet-18 pretrained on MS-Celeb-1M face recognition (the FER papers' start point), 512-d pooled feature."""
    return build_backbone(WEIGHT_FILES.get(MSCELEB.name), cache_dir)


@BACKBONES.register(IMAGENET.name)
def resnet18_imagenet(cache_dir: Path) -> Backbone:
    """ResNet-18 with torchvision's ImageNet weights, 512-d pooled feature."""
    return build_backbone(WEIGHT_FILES.get(IMAGENET.name), cache_dir)

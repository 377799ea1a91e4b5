"""Class activation maps, flip attention consistency, erasing and flip views (benchmark/README.md, "Training library")
on fixed tensors."""
import numpy as np
import pytest
import torch

from benchmark.training.attention_consistency import (attention_consistency, class_activation_maps,
                                                      flip_discrepancy, rebalanced_attention_consistency)
from benchmark.training.flip_views import erased_view_maker, random_erasing
from methods.openset_fer import high_loss_component
from tests.toy_plugins import toy_cnn


def test_cams_are_the_classifier_applied_at_every_location():
    fmap = torch.arange(12.0).view(1, 2, 2, 3)  # channel 0: 0..5, channel 1: 6..11
    weight = torch.tensor([[1.0, 0.0], [0.5, -1.0]])
    cams = class_activation_maps(fmap, weight)
    assert cams.shape == (1, 2, 2, 3)
    torch.testing.assert_close(cams[0, 0], fmap[0, 0])
    torch.testing.assert_close(cams[0, 1], torch.tensor([[-6.0, -6.5, -7.0], [-7.5, -8.0, -8.5]]))


def test_cams_train_the_features_only():
    fmap = torch.ones(1, 2, 1, 2, requires_grad=True)
    weight = torch.ones(3, 2, requires_grad=True)
    class_activation_maps(fmap, weight).sum().backward()
    assert weight.grad is None and fmap.grad is not None


def test_flip_discrepancy_flips_the_second_map_back():
    cams = torch.tensor([[1.0, 2.0, 4.0]]).view(1, 1, 1, 3)
    mirrored = torch.tensor([[4.0, 2.0, 1.0]]).view(1, 1, 1, 3)  # exactly the flip: no discrepancy
    assert flip_discrepancy(cams, mirrored).item() == 0.0
    shifted = torch.tensor([[4.0, 2.0, 0.0]]).view(1, 1, 1, 3)  # flipped back [0, 2, 4]: squared errors 1, 0, 0
    assert flip_discrepancy(cams, shifted).item() == pytest.approx(1 / 3)


def test_consistency_means_and_rebalanced_weighting():
    d = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert attention_consistency(d).item() == pytest.approx(2.5)  # mean over samples and classes
    # mean_n sum_k w_k d_nk = mean(0.5 + 4, 1.5 + 8)
    assert rebalanced_attention_consistency(d, torch.tensor([0.5, 2.0])).item() == pytest.approx(7.0)


def test_a_flip_equivariant_network_has_zero_discrepancy_on_flip_pairs():
    fmap = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    weight = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    cams = class_activation_maps(torch.cat([fmap, fmap.flip(-1)]), weight)
    assert flip_discrepancy(cams[:2], cams[2:]).abs().max().item() < 1e-6


def test_random_erasing_zeroes_one_rectangle_per_erased_image():
    x = torch.ones(200, 3, 20, 20)
    out = random_erasing(x, 0.5, torch.Generator().manual_seed(0))
    zero = (out == 0).all(dim=1)  # (N, H, W): erased pixels, the same in every channel
    erased = zero.flatten(1).any(1)
    assert 60 < erased.sum() < 140  # p = 0.5
    for mask in zero[erased]:
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a filled rectangle
        assert 0.02 * 400 * 0.5 <= mask.sum() <= 0.25 * 400 * 1.5  # area fraction 0.02-0.25, up to rounding


def test_flip_views_are_exact_mirrors_of_erased_views():
    backbone = toy_cnn(None)
    images = torch.randint(0, 256, (6, 8, 8, 3), dtype=torch.uint8)
    views = erased_view_maker(backbone, 1.0, 1.0, with_flip=True)(images, torch.Generator().manual_seed(0))
    assert views.shape == (12, 3, 8, 8)
    torch.testing.assert_close(views[6:], views[:6].flip(-1))
    assert (views[:6] == 0).all(dim=1).flatten(1).any(1).all()  # p = 1: every view erased


def test_high_loss_component_finds_the_separated_group():
    losses = np.r_[np.linspace(0.1, 0.3, 40), np.linspace(2.0, 2.4, 10)]
    assert high_loss_component(losses).tolist() == [False] * 40 + [True] * 10
    assert not high_loss_component(np.full(5, 0.7)).any()  # no spread: nothing is called open


def test_cnn_feature_maps_average_to_the_backbone_feature():
    from benchmark.backbones.resnet18 import ResNet18Features
    from datasets.synthface.backbone.cnn import SynthFaceCNN
    for model, size in ((SynthFaceCNN().eval(), 48), (ResNet18Features().eval(), 64)):
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            torch.testing.assert_close(model.feature_map(x).mean(dim=(2, 3)), model(x))
    assert toy_cnn(None).feature_map is SynthFaceCNN.feature_map

"""MEK as an add-on of the parametric GCD methods: class-size estimate, the losses on fixed tensors, a SimGCD run."""
import json

import pytest
import torch
import torch.nn.functional as F

from benchmark.core.backbone import Backbone
from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.training.rebalance_addon import RebalanceAddon
from methods.digface import DigFaceParams


SCALE = torch.tensor([1.0, 3.0])  # a map that is not flip-equivariant: column w of the view scaled by SCALE[w]


def _addon(**kwargs) -> RebalanceAddon:
    scaled = Backbone("maps", torch.nn.Identity(), 2, (0.0,) * 3, (1.0,) * 3, 3, "none",
                      feature_map=lambda model, x: model(x) * SCALE)
    return RebalanceAddon(scaled, [0] * 10 + [1] * 30, n_unlabelled=40, n_classes=4, method_name="test", **kwargs)


def test_class_sizes_count_labelled_plus_estimated_unlabelled_images():
    # uniform share: n = (10 + 10, 30 + 10, 0 + 10, 0 + 10), N = 80; w = N / (10 n)
    assert _addon().class_weights().tolist() == pytest.approx([0.4, 0.2, 0.8, 0.8])
    addon = _addon()
    addon.unlabelled_share.copy_(torch.tensor([0.0, 0.0, 0.95, 0.05]))  # new class 3 nearly empty: floored at 10
    assert addon.class_weights().tolist() == pytest.approx([80 / 100, 80 / 300, 80 / 380, 80 / 100])


def test_losses_on_fixed_tensors_match_the_formulas():
    addon = _addon(momentum=0.5)
    views = torch.zeros(2, 3, 1, 2)  # view 1 of B = 2 images, 1 x 2 maps
    views[0, :, 0, 0], views[1, :, 0, 1] = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    logits = torch.tensor([[0.0, 0.1, 0.0, 0.0], [0.0, 0.0, 0.1, 0.0], [0.0, 0.1, 0.0, 0.0], [0.1, 0.0, 0.0, 0.0]])
    prototypes = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    addon.update_class_sizes(logits[[1, 3]], 0.1)  # the unlabelled rows
    share = 0.5 * torch.full((4,), 0.25) + 0.5 * F.softmax(logits[[1, 3]] / 0.1, dim=1).mean(0)
    torch.testing.assert_close(addon.unlabelled_share, share)
    n = torch.tensor([10.0, 30.0, 0.0, 0.0]) + 40 * share
    w = n.sum() / (10 * n.clamp(min=10))
    targets = torch.zeros(2, 4)  # labelled rows 0 and 2, both class 1: the smooth labels replace one-hot targets
    targets[:, 1], targets[:, [0, 2, 3]] = 0.7, 0.3 * w[[0, 2, 3]] / w[[0, 2, 3]].sum()
    rsl = -(targets * F.log_softmax(logits[[0, 2]] / 0.1, dim=1)).sum(1).mean()
    assert addon.smooth_label_loss(logits[[0, 2]] / 0.1, torch.tensor([1, 1])).item() == pytest.approx(rsl.item())
    v = F.normalize(prototypes, dim=1)
    rac = 0.0
    for image in (0, 1):  # CAMs (K, 2) of view 1 and of its flip, the latter flipped back; w-weighted mean squares
        view = views[image, :, 0]
        cam, cam_of_flip = v @ (view * SCALE), v @ (view.flip(1) * SCALE)
        rac += (w * ((cam - cam_of_flip.flip(1)) ** 2).mean(1)).sum() / 2
    assert rac > 0
    loss = addon.attention_consistency(torch.nn.Identity(), views, prototypes)
    assert loss.item() == pytest.approx((0.1 * rac).item(), rel=1e-5)


def test_simgcd_runs_with_the_add_on_and_digface_needs_a_backbone_classifier(run_dirs):
    runs, cache = run_dirs
    sets = ["epochs=1", "batch_size=16", "proj_hidden_dim=32", "teacher_warmup_epochs=1", "rebalance=1", "view_bank=0"]
    assert main(["--methods", "simgcd", "--protocols", "toy-cnn", *[x for s in sets for x in ("--set", f"simgcd.{s}")],
                 "--no-leaderboard", "--keep-checkpoints", "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    record = json.loads(next(runs.glob("toy-cnn/simgcd/*/record.json")).read_text())
    assert record["method"]["params"]["rebalance"] == 1.0 and 0 <= record["results"]["unlabelled_train"]["all"] <= 1
    state = torch.load(next(runs.glob("toy-cnn/simgcd/*/checkpoint.pt")), weights_only=True)
    assert "rebalance.unlabelled_share" in state["model"]  # the running estimate resumes with the run
    with pytest.raises(GFaceError, match="classifier_on=backbone"):
        DigFaceParams(rebalance=1.0)
    DigFaceParams(rebalance=1.0, classifier_on="backbone")

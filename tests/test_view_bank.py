"""The view bank: trunk/tail splits are exact, stored views are trunk outputs of augmented views of the right image,
one file serves every row order, and misuse gets one clear error."""
import dataclasses
import json

import numpy as np
import pytest
import timm
import torch

from benchmark.backbones.resnet18 import ResNet18Features
from benchmark.backbones.vit import vit_tail, vit_trunk
from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.core.registry import PROTOCOLS
from benchmark.isolation import isolated_task
from benchmark.splits import materialise
from benchmark.training.view_bank import distinct_pairs, load_view_bank
from datasets.synthface.backbone.cnn import SynthFaceCNN
from tests.toy_plugins import register_toys, toy_backbone, toy_cnn, toy_data


@pytest.mark.parametrize("build, size", [(SynthFaceCNN, 48), (ResNet18Features, 64)])
def test_cnn_trunk_then_tail_is_the_forward_pass(build, size):
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(3, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(model.tail(model.trunk(x)), model(x))


def test_vit_trunk_then_tail_is_the_forward_pass():
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, global_pool="token").eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(vit_tail(model, vit_trunk(model, x)), model(x))


def test_pairs_are_two_different_stored_views():
    first, second = distinct_pairs(10_000, 3, torch.Generator().manual_seed(0))
    assert (first != second).all() and set(first.tolist()) == set(second.tolist()) == {0, 1, 2}


def _toy_task(tmp_path, seed):
    register_toys()
    protocol = PROTOCOLS.get("toy-cnn")
    data = toy_data()
    split = materialise(protocol, data, 0)
    task, order = isolated_task(protocol.id, data, split, toy_cnn(None), method="probe", seed=seed,
                                device=torch.device("cpu"), cache_dir=tmp_path / "cache", work_dir=tmp_path)
    return task, order, data


def test_bank_holds_trunk_outputs_of_each_rows_own_image_whatever_the_row_order(tmp_path):
    """With crop_pct 1 a view is the image or its mirror, so each stored view must be one of the two trunk outputs."""
    banks = []
    for seed in (1, 2):  # two runs: two row orders
        task, order, data = _toy_task(tmp_path, seed)
        rows = np.concatenate([task.labelled_idx, task.unlabelled_idx])
        bank = load_view_bank(task.backbone, task.images, rows, 3, 1.0, task.view_bank_dir, task.device)
        views = bank(rows, torch.Generator().manual_seed(0))
        backbone = task.backbone
        with torch.no_grad():
            images = torch.from_numpy(data.images[order.rows[rows]])
            x = (images.permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.25
            plain, mirrored = backbone.trunk(backbone.model, x), backbone.trunk(backbone.model, x.flip(-1))
        for half in (views[:len(rows)], views[len(rows):]):
            error = torch.minimum((half - plain).abs().amax(dim=(1, 2, 3)), (half - mirrored).abs().amax(dim=(1, 2, 3)))
            assert error.max() < 2e-2 * plain.abs().max()  # float16 storage
        banks.append(bank)
    assert banks[0].key == banks[1].key  # one file for both orders
    assert len(list((tmp_path / "cache" / "view-banks").glob("*.npy"))) == 1
    assert banks[0].describe() == {"views": 3, "key": banks[0].key, "images": len(rows), "dtype": "float16"}


def test_a_bank_needs_a_backbone_with_a_trunk(tmp_path):
    data = toy_data()
    with pytest.raises(GFaceError, match="trunk"):
        load_view_bank(toy_backbone(None), data.images, np.arange(10), 4, 1.0, tmp_path, torch.device("cpu"))


@pytest.mark.parametrize("method", ["gcd", "simgcd", "digface"])
@pytest.mark.parametrize("views", [1, -2])
def test_one_stored_view_is_refused(method, views):
    with pytest.raises(GFaceError, match="view_bank"):
        METHODS.get(method).Params(view_bank=views)


@pytest.mark.parametrize("method, extra", [("simgcd", {}), ("digface", {"classifier_on": "backbone"})])
def test_the_rebalance_addon_needs_images(method, extra):
    with pytest.raises(GFaceError, match="flip"):
        METHODS.get(method).Params(view_bank=8, rebalance=1.0, **extra)


def test_a_run_on_a_bank_records_it(run_dirs):
    runs, cache = run_dirs
    tiny = ["epochs=1", "batch_size=16", "proj_hidden_dim=32", "teacher_warmup_epochs=1", "view_bank=4"]
    overrides = [x for item in tiny for x in ("--set", f"simgcd.{item}")]
    assert main(["--methods", "simgcd", "--protocols", "toy-cnn", *overrides, "--no-leaderboard",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    record = json.loads(next(runs.glob("toy-cnn/simgcd/*/record.json")).read_text())
    assert record["info"]["view_bank"]["views"] == 4 and record["method"]["params"]["view_bank"] == 4
    assert len(record["info"]["view_bank"]["key"]) == 64

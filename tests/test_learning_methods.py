"""Smoke runs of the learning methods on tiny data, and exact resume of a killed training run."""
import json

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.training.trainer import Batch, OptimConfig, fit
from tests.toy_plugins import toy_cnn, toy_data

TINY = {"gcd": ["epochs=1", "batch_size=16", "head_hidden_dim=32", "head_out_dim=64", "n_init=2"],
        "simgcd": ["epochs=1", "batch_size=16", "proj_hidden_dim=32", "teacher_warmup_epochs=1"]}


@pytest.mark.parametrize("method", sorted(TINY))
def test_one_epoch_smoke_run(run_dirs, method):
    runs, cache = run_dirs
    overrides = [x for item in TINY[method] for x in ("--set", f"{method}.{item}")]
    assert main(["--methods", method, "--protocols", "toy-cnn", *overrides, "--no-leaderboard",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    record = json.loads(next(runs.glob(f"toy-cnn/{method}/*/record.json")).read_text())
    results = record["results"]["unlabelled_train"]
    assert 0.0 <= results["all"] <= 1.0 and 0.0 <= results["auroc"] <= 1.0
    assert record["info"]["train"]["epochs_run"] == 1
    assert not (next(runs.glob(f"toy-cnn/{method}/*")) / "checkpoint.pt").exists()  # deleted once done


def _toy_training(work_dir, crash_in_epoch=None):
    data = toy_data()
    backbone = toy_cnn(None)
    from benchmark.training.augment import two_views
    from benchmark.training.backbone_training import trainable_copy
    from benchmark.training.trainer import image_views
    torch.manual_seed(0)
    network = torch.nn.Sequential(trainable_copy(backbone), torch.nn.Linear(backbone.feature_dim, 4))
    labelled = np.flatnonzero(data.is_train & (data.labels < 2))[::2]
    unlabelled = np.setdiff1d(np.flatnonzero(data.is_train), labelled)

    def step(model, batch: Batch):
        if batch.epoch == crash_in_epoch:
            raise KeyboardInterrupt  # as if the process were killed mid-epoch
        logits = model(batch.views)
        mask = batch.is_labelled.repeat(2)
        return torch.nn.functional.cross_entropy(logits[mask], batch.labels.repeat(2)[mask]), {}

    views = image_views(data.images, torch.device("cpu"), lambda uint8, g: two_views(
        uint8, backbone.input_size, 0.875, backbone.mean, backbone.std, g))
    fit(network, step, views, labelled, data.labels[labelled], unlabelled,
        OptimConfig(3, 16, 0.05, 0.9, 1e-4, decay_1d=False), work_dir, seed=7, device=torch.device("cpu"),
        desc="toy")
    return network.state_dict()


def test_killed_training_resumes_to_identical_weights(tmp_path):
    uninterrupted = _toy_training(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _toy_training(tmp_path / "b", crash_in_epoch=2)
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2  # two finished epochs were checkpointed
    resumed = _toy_training(tmp_path / "b")
    assert uninterrupted.keys() == resumed.keys()
    for key in uninterrupted:
        torch.testing.assert_close(resumed[key], uninterrupted[key], rtol=0, atol=0)


def test_only_the_last_stage_trains(tmp_path):
    original = toy_cnn(None).model.state_dict()
    trained = {k.removeprefix("0."): v for k, v in _toy_training(tmp_path).items() if k.startswith("0.")}
    frozen = [k for k in original if not k.startswith("stage4")]
    assert all(torch.equal(original[k], trained[k]) for k in frozen)  # weights and BatchNorm statistics
    assert not torch.equal(original["stage4.conv1.weight"], trained["stage4.conv1.weight"])

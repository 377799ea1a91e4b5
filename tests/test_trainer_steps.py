"""Trainer additions used by DIG-FACE: the global step counter survives a kill, and global-norm clipping."""
import numpy as np
import pytest
import torch

from benchmark.training.trainer import Batch, OptimConfig, fit, image_views
from tests.toy_plugins import toy_data

DATA = toy_data()
LABELLED = np.flatnonzero(DATA.is_train & (DATA.labels < 2))[::2]
UNLABELLED = np.setdiff1d(np.flatnonzero(DATA.is_train), LABELLED)


def _flat_views(uint8: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.cat([uint8, uint8]).flatten(1).float() / 255


def _train(work_dir, seen, optim, crash_at_step=None, loss_scale=1.0):
    torch.manual_seed(0)
    model = torch.nn.Linear(8 * 8 * 3, 2)

    def step(network, batch: Batch):
        if batch.step == crash_at_step:
            raise KeyboardInterrupt
        seen.append((batch.epoch, batch.step, batch.total_steps))
        return loss_scale * network(batch.views).sum(), {}

    fit(model, step, image_views(DATA.images, torch.device("cpu"), _flat_views), LABELLED,
        DATA.labels[LABELLED], UNLABELLED, optim, work_dir, seed=3,
        device=torch.device("cpu"), desc="steps")
    return model


def test_global_step_is_contiguous_across_a_resume(tmp_path):
    optim = OptimConfig(3, 16, 0.01, 0.9, 0.0, decay_1d=False)
    per_epoch = (len(LABELLED) + len(UNLABELLED)) // 16
    seen: list = []
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, seen, optim, crash_at_step=2 * per_epoch + 1)  # killed inside the third epoch
    _train(tmp_path, seen, optim)
    resumed = [s for s in seen if s[0] == 2][-per_epoch:]
    assert [s[1] for s in resumed] == list(range(2 * per_epoch, 3 * per_epoch))
    assert {s[2] for s in seen} == {3 * per_epoch}
    assert all(step == epoch * per_epoch + i % per_epoch for i, (epoch, step, _) in enumerate(seen[:2 * per_epoch]))


def test_gradient_norm_is_clipped(tmp_path):
    n = len(LABELLED) + len(UNLABELLED)  # one batch: a single SGD step at lr 1, no momentum, no decay
    torch.manual_seed(0)
    initial = torch.cat([p.detach().flatten() for p in torch.nn.Linear(8 * 8 * 3, 2).parameters()])
    moved = {}
    for clip in (0.5, None):
        optim = OptimConfig(1, n, 1.0, 0.0, 0.0, decay_1d=False, clip_grad_norm=clip)
        model = _train(tmp_path / str(clip), [], optim, loss_scale=1e4)
        moved[clip] = (torch.cat([p.detach().flatten() for p in model.parameters()]) - initial).norm().item()
    assert moved[0.5] == pytest.approx(0.5, rel=1e-5)
    assert moved[None] > 100


def test_warmup_factor_rises_linearly_then_stays_at_one():
    from benchmark.training.trainer import warmup_factor
    assert [warmup_factor(s, 40, 0.1) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_factor(0, 40, 0.0) == 1.0
    assert warmup_factor(0, 10, 0.01) == 1.0  # ceil(0.1) = one step: the full rate from the start


def test_a_warm_up_step_uses_the_scaled_rate_and_leaves_the_schedule_alone():
    from benchmark.training.trainer import optimiser_step
    model = torch.nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(1.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    optimiser_step(model, optimizer, model(torch.ones(1, 1)).sum(), None, lr_factor=0.2)  # gradient 1
    assert model.weight.item() == pytest.approx(1.0 - 0.2 * 0.5)
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_unit_norm_initialisation_of_a_projector():
    from benchmark.training.heads import ProjectionMLP, scale_to_unit_norm
    torch.manual_seed(0)
    projector, features = ProjectionMLP(16, 32, 8), torch.rand(100, 16)
    before = projector(features).norm(dim=1).median().item()
    assert scale_to_unit_norm(projector, features) == pytest.approx(before)
    assert projector(features).norm(dim=1).median().item() == pytest.approx(1.0, rel=1e-5)

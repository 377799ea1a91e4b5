"""UNO+ pieces against their formulas on small fixed tensors: Sinkhorn-Knopp's marginals, swapped prediction, the
per-epoch mean, the budget-scaled schedule."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.budget import budget_values
from benchmark.training.epoch_mean import EpochMean
from benchmark.training.sinkhorn import sinkhorn_knopp
from methods.uno import UNO, swapped_prediction, swapped_targets

torch.manual_seed(0)
LOGITS = torch.randn(5, 3, dtype=torch.float64) * 0.3  # 5 rows, 3 classes


def _sinkhorn_numpy(logits: np.ndarray, epsilon: float, n_iters: int) -> np.ndarray:
    """The SwAV/UNO recipe written out on the (K, B) transpose: prototypes get 1/K, samples 1/B, times B."""
    q = np.exp(logits / epsilon).T
    q /= q.sum()
    k, b = q.shape
    for _ in range(n_iters):
        q /= q.sum(axis=1, keepdims=True) * k
        q /= q.sum(axis=0, keepdims=True) * b
    return (q * b).T


# --- Sinkhorn-Knopp -------------------------------------------------------------------------------------------------

def test_sinkhorn_matches_the_written_out_recipe():
    expected = _sinkhorn_numpy(LOGITS.numpy(), 0.5, 3)
    np.testing.assert_allclose(sinkhorn_knopp(LOGITS, 0.5, 3).numpy(), expected, rtol=1e-5)


def test_sinkhorn_rows_sum_to_one_and_classes_share_equally_in_the_limit():
    q = sinkhorn_knopp(LOGITS, 0.05, 3)
    torch.testing.assert_close(q.sum(1), torch.ones(5))
    q = sinkhorn_knopp(LOGITS, 0.5, 500)
    torch.testing.assert_close(q.sum(1), torch.ones(5))
    torch.testing.assert_close(q.sum(0), torch.full((3,), 5 / 3))


def test_sinkhorn_spreads_rows_that_all_prefer_one_class():
    # every row prefers class 0 by the same amount: plain softmax puts all rows there, equipartition cannot
    logits = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert (F.softmax(logits / 0.05, 1)[:, 0] > 0.99).all()
    torch.testing.assert_close(sinkhorn_knopp(logits, 0.05, 3), torch.full((4, 2), 0.5))


def test_sinkhorn_is_unchanged_by_a_shift_that_would_overflow_exp():
    assert not torch.isfinite(torch.exp(LOGITS.float() + 90)).all()  # float32 overflows past e^88.7
    torch.testing.assert_close(sinkhorn_knopp(LOGITS + 90, 1.0, 3), sinkhorn_knopp(LOGITS, 1.0, 3))


# --- UNO+ -------------------------------------------------------------------------------------------------------------

def test_swapped_targets_one_hot_for_labelled_and_sinkhorn_for_the_rest():
    labels = torch.tensor([2, -1, 0, -1, -1])
    labelled = labels >= 0
    targets = swapped_targets(LOGITS, labels, labelled, 2, 0.05, 3)
    torch.testing.assert_close(targets[0], torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(targets[2], torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(targets[~labelled], sinkhorn_knopp(LOGITS[~labelled], 0.05, 3))


def test_ncd_targets_put_pseudo_labels_on_the_new_classes_only():
    labels = torch.tensor([0, -1, 1, -1, -1])
    labelled = labels >= 0
    targets = swapped_targets(LOGITS, labels, labelled, 2, 0.05, 3, ncd_targets=True)
    assert (targets[~labelled, :2] == 0).all()
    torch.testing.assert_close(targets[~labelled, 2], torch.ones(3))  # one new class: all mass there


def test_swapped_prediction_matches_formula():
    logits = torch.randn(4, 3, dtype=torch.float64)  # 2 images x 2 views
    targets = F.softmax(torch.randn(4, 3, dtype=torch.float64), 1)
    tau = 0.1
    log_p = F.log_softmax(logits / tau, 1)
    total = 0.0
    for i in range(4):
        partner = (i + 2) % 4  # the same image's other view
        total += -sum(float(targets[partner, c] * log_p[i, c]) for c in range(3))
    assert swapped_prediction(logits, targets, tau).item() == pytest.approx(total / 4)


def test_uno_step_tracks_the_loss_of_each_head():
    from methods.uno import UNONetwork
    from benchmark.training.trainer import Batch
    params = UNO.Params(num_heads=2, hidden_dim=8, proj_dim=4)
    network = UNONetwork(torch.nn.Identity(), 6, 2, 2, params)
    views = torch.randn(8, 6)
    batch = Batch(views, torch.tensor([0, 1, -1, -1]), torch.tensor([True, True, False, False]), 0, 0, 1)
    loss, logs = UNO(params)._step(network, batch)
    assert torch.isfinite(loss) and network.head_loss.current().shape == (2,)
    assert logs["cluster"] == pytest.approx(float(network.head_loss.current().mean()), rel=1e-5)


# --- shared pieces ----------------------------------------------------------------------------------------------------

def test_epoch_mean_resumes_from_its_state_dict():
    first = EpochMean(2)
    first.update(0, torch.tensor([1.0, 2.0]))
    first.update(0, torch.tensor([3.0, 4.0]))
    first.update(1, torch.tensor([5.0, 6.0]), weight=0.0)  # only marks the new epoch
    second = EpochMean(2)
    second.load_state_dict(first.state_dict())
    torch.testing.assert_close(second.previous, torch.tensor([2.0, 3.0]))
    assert bool(second.has_previous) and int(second.epoch) == 1
    second.update(1, torch.tensor([5.0, 6.0]))
    torch.testing.assert_close(second.current(), torch.tensor([5.0, 6.0]))


def test_budget_scales_the_paper_schedules():
    assert budget_values("uno", UNO, 16, view_bank=8) == {"epochs": 16, "warmup_epochs": 1, "view_bank": 32}

"""UNO+ and ORCA pieces against their formulas on small fixed tensors: Sinkhorn-Knopp's marginals, swapped
prediction, the adaptive-margin cross-entropy, the pairwise objective and its partners, the per-epoch mean, the step
learning-rate schedule and the budget-scaled schedules."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.budget import budget_values
from benchmark.training.epoch_mean import EpochMean
from benchmark.training.optimisers import build_optimiser
from benchmark.training.sinkhorn import sinkhorn_knopp
from benchmark.training.trainer import OptimConfig
import methods.orca as orca
from benchmark.core.registry import METHODS
from methods.orca import ORCA, adaptive_margin_cross_entropy, mean_uncertainty, pair_partners, pairwise_loss
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


# --- ORCA -------------------------------------------------------------------------------------------------------------

def test_adaptive_margin_cross_entropy_matches_formula():
    cosines = torch.tensor([[0.2, -0.1, 0.5], [0.3, 0.4, -0.2]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    s, m = 10.0, 0.3
    total = 0.0
    for row, y in zip(cosines.tolist(), labels.tolist()):
        target = math.exp(s * (row[y] + m))
        total += -math.log(target / (target + sum(math.exp(s * c) for j, c in enumerate(row) if j != y)))
    assert adaptive_margin_cross_entropy(cosines, labels, m, s).item() == pytest.approx(total / 2)


def test_margin_lowers_the_loss_and_an_empty_batch_gives_zero():
    cosines = torch.tensor([[0.2, -0.1, 0.5]])
    labels = torch.tensor([0])
    assert (adaptive_margin_cross_entropy(cosines, labels, 0.5, 10.0)
            < adaptive_margin_cross_entropy(cosines, labels, 0.0, 10.0))
    assert adaptive_margin_cross_entropy(cosines[:0], labels[:0], 0.5, 10.0).item() == 0.0


def test_pair_partners_by_class_and_by_nearest_neighbour():
    feats = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.9, 0.1], [0.1, 1.0], [0.0, -1.0]])
    labels = torch.tensor([0, 1, 0, -1, -1, 2])
    labelled = labels >= 0
    partners = pair_partners(feats, labels, labelled, torch.Generator().manual_seed(0))
    assert partners[0] == 2 and partners[2] == 0  # the only other row of class 0
    assert partners[1] == 1 and partners[5] == 5  # alone in their class: paired with themselves
    assert partners[3] == 2  # nearest other row by cosine (row 2, not row 0)
    assert partners[4] == 1


def test_pair_partners_draw_every_other_row_of_the_class():
    labels = torch.tensor([0, 0, 0, 0])
    seen = {int(pair_partners(torch.randn(4, 3), labels, labels >= 0, torch.Generator().manual_seed(seed))[0])
            for seed in range(40)}
    assert seen == {1, 2, 3}


def test_pairwise_loss_matches_formula():
    prob = torch.tensor([[0.7, 0.3], [0.2, 0.8]], dtype=torch.float64)
    partner = torch.tensor([[0.6, 0.4], [0.5, 0.5]], dtype=torch.float64)
    expected = -(math.log(0.7 * 0.6 + 0.3 * 0.4) + math.log(0.2 * 0.5 + 0.8 * 0.5)) / 2
    assert pairwise_loss(prob, partner).item() == pytest.approx(expected)


def test_pairwise_loss_follows_the_gradient_as_far_as_the_releases_bce():
    """nn.BCELoss: log clamped at -100, gradient -1 / max(x (1 - x), 1e-12); a 1e-7 clamp would stop at 1e-7."""
    prob = torch.tensor([[1.0, 0.0]], requires_grad=True)
    partner = torch.tensor([[1e-9, 1.0 - 1e-9]], dtype=torch.float64).float()
    loss = pairwise_loss(prob, partner)
    assert loss.item() == pytest.approx(-math.log(1e-9), rel=1e-4)
    loss.backward()
    assert prob.grad[0, 0].item() == pytest.approx(-1e-9 / 1e-9, rel=1e-3)  # d/dp0 of -log(p0 q0) = -q0 / (p0 q0)
    zero = pairwise_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
    assert zero.item() == pytest.approx(100.0)  # the release's floor, finite


def test_mean_uncertainty_matches_formula():
    cosines = torch.tensor([[1.0, 0.0], [0.1, 0.0]])
    top = [1 / (1 + math.exp(-10.0)), 1 / (1 + math.exp(-1.0))]
    assert mean_uncertainty(cosines, 10.0) == pytest.approx(1 - sum(top) / 2, rel=1e-5)


def test_orca_margin_comes_from_an_eval_pass_over_d_u_at_the_start_of_each_epoch(tmp_path, monkeypatch):
    """The margin of every step of epoch e is min(ū_e, cap), ū_e measured in eval mode over D_U (test transform)
    with the network as it stands before e's first step; the record keeps ū per epoch."""
    from tests.test_conformance import smoke_run

    events = []
    measure, step = orca.unlabelled_uncertainty, ORCA._step

    features_during_training, passes = orca.features_during_training, []

    def spy_features(task, inputs, rows):
        passes.append(np.array_equal(rows, task.unlabelled_idx))  # the pass is over D_U
        return features_during_training(task, inputs, rows)

    def spy_measure(unlabelled_features, classifier, scale):
        value = measure(unlabelled_features, classifier, scale)
        assert not classifier.training  # eval mode during the pass
        feats = torch.from_numpy(unlabelled_features())
        assert value == pytest.approx(mean_uncertainty(classifier(feats), scale))
        events.append(("measured", value, classifier.weight.detach().clone()))
        return value

    def spy_step(self, network, batch):
        events.append(("step", batch.epoch, network.classifier.weight.detach().clone(), network.training))
        return step(self, network, batch)

    monkeypatch.setattr(orca, "features_during_training", spy_features)
    monkeypatch.setattr(orca, "unlabelled_uncertainty", spy_measure)
    monkeypatch.setattr(ORCA, "_step", spy_step)
    monkeypatch.setitem(METHODS.get("orca").profiles, "smoke", {"epochs": 2, "batch_size": 16})
    _, _, record = smoke_run("orca", "toy-cnn", tmp_path, monkeypatch)
    kinds = [e[0] for e in events]
    starts = [i for i, k in enumerate(kinds) if k == "measured"]
    assert len(starts) == 2 and starts[0] == 0 and passes == [True]
    for epoch, start in enumerate(starts):
        first_step = events[start + 1]
        assert first_step[:2] == ("step", epoch) and first_step[3]  # the next step is e's first, in train mode
        assert torch.equal(events[start][2], first_step[2])  # measured with the network that starts e
    measured = record["info"]["mean_uncertainty_by_epoch"]
    assert [measured["0"], measured["1"]] == pytest.approx([events[s][1] for s in starts], abs=1e-6)
    assert measured["0"] != measured["1"]  # the network moved, and ū was measured again


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


def test_step_schedule_drops_the_learning_rate_at_the_milestones():
    model = torch.nn.Linear(2, 2)
    optim = OptimConfig(5, 1, 0.1, 0.9, 0.0, True, lr_milestones=(2, 4), lr_milestone_gamma=0.1)
    optimizer, scheduler = build_optimiser(model, optim)
    rates = []
    for _ in range(5):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001])


def test_budget_scales_the_paper_schedules():
    assert budget_values("orca", ORCA, 16) == {"epochs": 16, "first_lr_drop_epoch": 11, "second_lr_drop_epoch": 14}
    assert budget_values("uno", UNO, 16, view_bank=8) == {"epochs": 16, "warmup_epochs": 1, "view_bank": 32}

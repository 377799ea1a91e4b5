"""DIG-FACE's new terms against their formulas (explicit loops on small fixed tensors), in both modes where they
differ; the gradient-reversal schedule and its gradients; how the training step assembles the objective."""
import math

import pytest
import torch
import torch.nn.functional as F

from benchmark.training.debias_losses import (class_adaptive_smoothing_loss, max_min_spread, smoothing_factor,
                                              within_between_ratio, worst_case_loss)
from benchmark.training.grl import reverse_gradient, warm_start_coefficient
from benchmark.training.trainer import Batch
from methods.digface import DigFace, DigFaceNetwork, DigFaceParams

torch.manual_seed(0)
AUX = torch.randn(5, 3, dtype=torch.float64)
MAIN = torch.randn(5, 3, dtype=torch.float64)
IS_LABELLED = torch.tensor([True, False, True, False, False])
Z = F.normalize(torch.randn(5, 2, 4, dtype=torch.float64), dim=-1)  # 5 labelled images x 2 views x 4 features
Z_LABELS = torch.tensor([0, 0, 1, 2, 2])


# --- gradient reversal ---------------------------------------------------------------------------------------------

def test_warm_start_coefficient_values():
    assert warm_start_coefficient(0) == 0.0
    assert warm_start_coefficient(500) == pytest.approx(0.2 * 0.6224593312 - 0.1)  # sigmoid(0.5)
    assert warm_start_coefficient(1000) == pytest.approx(0.2 * 0.7310585786 - 0.1)  # sigmoid(1) -> 0.0462
    assert warm_start_coefficient(20000) == pytest.approx(0.1, abs=1e-9)
    assert warm_start_coefficient(60, high=1.0, max_iters=60) == pytest.approx(2 * 0.7310585786 - 1)
    values = [warm_start_coefficient(t) for t in range(0, 5000, 250)]
    assert values == sorted(values)


def test_reversed_gradient_reaches_the_features():
    features = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, dtype=torch.float64)
    out = reverse_gradient(features, 0.03)
    assert torch.equal(out, features)  # identity forward
    (out * w).sum().backward()
    torch.testing.assert_close(features.grad, -0.03 * w)


# --- worst-case estimation loss --------------------------------------------------------------------------------------

def test_worst_case_loss_matches_formula():
    pseudo = MAIN.argmax(1)
    prob = F.softmax(AUX, dim=1)
    labelled = [i for i in range(5) if IS_LABELLED[i]]
    unlabelled = [j for j in range(5) if not IS_LABELLED[j]]
    part_l = sum(-math.log(prob[i, pseudo[i]]) for i in labelled) / len(labelled)
    part_u = sum(-math.log(min(1.0, 1.0 - float(prob[j, pseudo[j]]) + 1e-6)) for j in unlabelled) / len(unlabelled)
    assert worst_case_loss(AUX, MAIN, IS_LABELLED, 2.0).item() == pytest.approx(2.0 * part_l + part_u)


def test_worst_case_loss_with_one_part_empty():
    everyone = torch.ones(5, dtype=torch.bool)
    expected = 2.0 * F.cross_entropy(AUX, MAIN.argmax(1)).item()
    assert worst_case_loss(AUX, MAIN, everyone, 2.0).item() == pytest.approx(expected)
    nobody = ~everyone
    prob = F.softmax(AUX, dim=1).gather(1, MAIN.argmax(1)[:, None]).squeeze(1)
    assert worst_case_loss(AUX, MAIN, nobody, 2.0).item() == pytest.approx(-torch.log(1 - prob + 1e-6).mean().item())


def test_worst_case_loss_gives_the_main_head_no_gradient():
    main = MAIN.clone().requires_grad_(True)
    aux = AUX.clone().requires_grad_(True)
    worst_case_loss(aux, main, IS_LABELLED).backward()
    assert main.grad is None and aux.grad.abs().sum() > 0


# --- class-adaptive label smoothing ---------------------------------------------------------------------------------

def test_smoothing_factor_schedule():
    assert smoothing_factor(0, 1000) == pytest.approx(0.1)
    assert smoothing_factor(250, 1000) == pytest.approx(0.075)
    assert smoothing_factor(1000, 1000) == pytest.approx(0.0)
    assert smoothing_factor(999, 1000, released_code=True) == 0.1  # D2: never decays


LOGITS = torch.tensor([[2.0, 0.1, 0.3, 0.0], [0.2, 1.5, 0.0, 0.1], [0.1, 0.2, 0.0, 0.9],
                       [0.3, 2.2, 0.1, 0.0], [1.1, 0.0, 0.4, 0.2], [0.0, 0.3, 0.2, 0.1]], dtype=torch.float64)
SMOOTH_LABELS = torch.tensor([0, 0, 1, 1, 0, 1])  # classes 2 and 3 absent


def _smoothing_by_loops(logits, labels, e, released_code):
    k = logits.shape[1]
    predicted = logits.argmax(1)
    raw = []
    for c in range(k):
        members = [i for i in range(len(labels)) if labels[i] == c]
        acc = sum(int(predicted[i] == c) for i in members) / max(1, len(members))
        raw.append(1.0 / (acc + 1e-5) if (members or released_code) else 0.0)
    w = [r / sum(raw) for r in raw]
    total = 0.0
    for i in range(len(labels)):
        log_p = F.log_softmax(logits[i], dim=0)
        target = [(1 - e) * (c == int(labels[i])) + e / k * w[c] for c in range(k)]
        total += -sum(target[c] * float(log_p[c]) for c in range(k))
    return total / len(labels), w


@pytest.mark.parametrize("released_code", [False, True])
def test_class_adaptive_smoothing_matches_formula(released_code):
    expected, weights = _smoothing_by_loops(LOGITS, SMOOTH_LABELS, 0.07, released_code)
    got = class_adaptive_smoothing_loss(LOGITS, SMOOTH_LABELS, 0.07, released_code).item()
    assert got == pytest.approx(expected, rel=1e-6)
    absent_mass = weights[2] + weights[3]
    assert absent_mass > 0.99 if released_code else absent_mass == 0.0  # D3 versus the paper mode


def test_class_adaptive_smoothing_on_a_hand_computed_case():
    # one labelled row of class 0, predicted correctly, K = 2, paper mode: w = (1, 0), target (1 - e + e/2, 0)
    logits = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    expected = -(1 - 0.1 + 0.05) * math.log(math.e / (math.e + 1))
    assert class_adaptive_smoothing_loss(logits, torch.tensor([0]), 0.1).item() == pytest.approx(expected, rel=1e-5)


# --- distribution level: within/between ratio and max-min spread -----------------------------------------------------

def _ratio_by_loops(samples, labels):
    """``samples``: list of vectors (one per sample, view axis already handled by the caller)."""
    mean = sum(samples) / len(samples)
    within = between = 0.0
    for c in sorted(set(labels)):
        members = [s for s, y in zip(samples, labels) if y == c]
        centre = sum(members) / len(members)
        within += sum(float(((m - centre) ** 2).sum()) for m in members)
        between += len(members) * float(((centre - mean) ** 2).sum())
    return within / (between + 1e-8)


def test_within_between_ratio_paper_mode_matches_formula():
    rows = [Z[i, v] for i in range(5) for v in range(2)]
    labels = [int(Z_LABELS[i]) for i in range(5) for _ in range(2)]
    assert within_between_ratio(Z, Z_LABELS).item() == pytest.approx(_ratio_by_loops(rows, labels))


def test_within_between_ratio_released_mode_matches_formula():
    images = [Z[i] for i in range(5)]  # (2, D) per image: per-view means, squared norms over views and features
    labels = [int(y) for y in Z_LABELS]
    assert within_between_ratio(Z, Z_LABELS, released_code=True).item() == pytest.approx(
        _ratio_by_loops(images, labels))


def test_within_between_ratio_hand_computed():
    # 1-D features; image 0 (class 0) has views 0 and 2, image 1 (class 1) views 10 and 12
    z = torch.tensor([[[0.0], [2.0]], [[10.0], [12.0]]], dtype=torch.float64)
    labels = torch.tensor([0, 1])
    assert within_between_ratio(z, labels).item() == pytest.approx(4 / 100)  # W = 1+1+1+1, B = 2*25 + 2*25
    assert within_between_ratio(z, labels, released_code=True).item() == 0.0  # one image per class and view


def test_within_between_ratio_is_zero_with_one_class():
    assert within_between_ratio(Z[:2], Z_LABELS[:2]).item() == 0.0


def test_max_min_spread_paper_mode_matches_formula():
    spreads = []
    for c in (0, 1, 2):
        rows = [Z[i, v] for i in range(5) for v in range(2) if Z_LABELS[i] == c]
        centre = sum(rows) / len(rows)
        distances = [float(((r - centre) ** 2).sum()) for r in rows]
        spreads.append(max(distances) - min(distances))
    assert max_min_spread(Z, Z_LABELS).item() == pytest.approx(sum(spreads) / 3)


def test_max_min_spread_released_mode_matches_formula():
    spreads = []
    for c in (0, 1, 2):
        members = [i for i in range(5) if Z_LABELS[i] == c]
        entries = []
        for i in members:
            for d in range(4):
                centre = [sum(float(Z[m, v, d]) for m in members) / len(members) for v in range(2)]
                entries.append(sum((float(Z[i, v, d]) - centre[v]) ** 2 for v in range(2)))
        spreads.append(max(entries) - min(entries))
    assert max_min_spread(Z, Z_LABELS, released_code=True).item() == pytest.approx(sum(spreads) / 3)


# --- the training step ---------------------------------------------------------------------------------------------

def _setup(**changes):
    torch.manual_seed(1)
    params = DigFaceParams(proj_hidden_dim=16, proj_out_dim=8, aux_hidden_dim=16, aux_dropout=0.0,
                           cluster_start_epoch=1, **changes)
    network = DigFaceNetwork(torch.nn.Linear(6, 10), 10, 4, params).double()
    labels = torch.tensor([0, 1, -1, 0, -1, 1])
    views = torch.randn(12, 6, dtype=torch.float64)
    return DigFace(params), network, Batch(views, labels, labels >= 0, epoch=1, step=500, total_steps=2000)


ONLY_WORST_CASE = {name: 0.0 for name in DigFace.ablation_terms.values() if name != "worst_case_weight"}


@pytest.mark.parametrize("aux_on_normalised", [False, True])
@pytest.mark.parametrize("released_code", [False, True])
def test_step_sends_reversed_worst_case_gradient_to_the_features(released_code, aux_on_normalised):
    method, network, batch = _setup(released_code=released_code, aux_on_normalised=aux_on_normalised,
                                    **ONLY_WORST_CASE)
    loss, logs = method._step(network, batch)
    assert set(logs) == {"worst_case", "grl"}
    loss.backward()
    backbone_grad = network.backbone.weight.grad.clone()
    aux_grad = network.aux_head[0].weight.grad.clone()
    network.zero_grad()
    z, logits = network(batch.views)  # the same loss without the reversal layer
    aux_input = torch.nn.functional.normalize(z[:6], dim=1) if aux_on_normalised else z[:6]
    plain = 0.2 * worst_case_loss(network.aux_head(aux_input), logits[:6], batch.is_labelled)
    plain.backward()
    lam = 0.0 if released_code else warm_start_coefficient(500, high=0.1, max_iters=1000)
    assert logs["grl"] == pytest.approx(lam)
    torch.testing.assert_close(backbone_grad, -lam * network.backbone.weight.grad, rtol=1e-6, atol=0)
    torch.testing.assert_close(aux_grad, network.aux_head[0].weight.grad, rtol=1e-6, atol=0)  # learns in both modes
    assert (backbone_grad.abs().sum() == 0) == released_code
    assert network.classifier.weight.grad is None or network.classifier.weight.grad.abs().sum() == 0


def test_step_objective_is_the_weighted_sum_of_its_terms():
    method, network, batch = _setup()
    loss, logs = method._step(network, batch)
    weights = {"ce": 0.35, "distill": 0.65, "memax": 0.65 * 1.0, "infonce": 0.65, "supcon": 0.35, "smoothing": 0.3,
               "worst_case": 0.2, "within_between": 0.2 * 1.0, "max_min": 0.2 * 0.1}
    assert set(logs) == set(weights) | {"grl"}
    assert loss.item() == pytest.approx(sum(w * logs[name] for name, w in weights.items()))


def test_zero_weight_removes_a_term_and_cluster_waits_for_its_epoch():
    method, network, batch = _setup(smoothing_weight=0.0, max_min_weight=0.0)
    _, logs = method._step(network, batch)
    assert "smoothing" not in logs and "max_min" not in logs and "within_between" in logs
    _, logs = method._step(network, Batch(batch.views, batch.labels, batch.is_labelled, 0, 0, 2000))
    assert "within_between" not in logs  # before cluster_start_epoch


def test_released_code_memax_epsilon():
    assert DigFace(DigFaceParams()).memax_epsilon == 1.0
    assert DigFace(DigFaceParams(released_code=True)).memax_epsilon == 2.0  # D7
    assert DigFace(DigFaceParams(released_code=True, memax_epsilon=3.0)).memax_epsilon == 3.0


def test_classifier_placement():
    params = DigFaceParams(proj_hidden_dim=16, proj_out_dim=8, aux_hidden_dim=16)
    assert DigFaceNetwork(torch.nn.Identity(), 10, 4, params).classifier.weight.shape == (4, 8)
    params = DigFaceParams(proj_hidden_dim=16, proj_out_dim=8, aux_hidden_dim=16, classifier_on="backbone")
    assert DigFaceNetwork(torch.nn.Identity(), 10, 4, params).classifier.weight.shape == (4, 10)

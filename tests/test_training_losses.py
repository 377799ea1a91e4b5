"""Each loss against its formula, computed with explicit loops on small fixed tensors."""
import math

import pytest
import torch
import torch.nn.functional as F

from benchmark.training.losses import (cross_view_distillation, info_nce, mean_entropy_regulariser, supcon,
                                       teacher_temperature)

torch.manual_seed(0)
Z = torch.randn(6, 5, dtype=torch.float64)  # B = 3 images, two views: rows 0-2 view 1, rows 3-5 view 2
LOGITS = torch.randn(6, 4, dtype=torch.float64) * 0.5


def _unit(v):
    return v / v.norm()


def test_info_nce_matches_formula():
    tau = 0.5
    z = [_unit(r) for r in Z]
    total = 0.0
    for i in range(6):
        j = (i + 3) % 6
        denominator = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(6) if k != i)
        total += -math.log(math.exp(float(z[i] @ z[j]) / tau) / denominator)
    assert info_nce(Z, tau).item() == pytest.approx(total / 6)


def test_info_nce_on_a_hand_computed_case():
    # two images, orthogonal unit vectors, views identical: row 0 sees itself excluded, positive cos 1,
    # negatives cos 0 (twice): -log(e / (e + 2))
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert info_nce(z, 1.0).item() == pytest.approx(-math.log(math.e / (math.e + 2)), rel=1e-6)


def test_supcon_matches_formula():
    labels = torch.tensor([0, 1, 0, 0, 1, 0])
    tau, base = 0.07, 0.07
    z = [_unit(r) for r in Z]
    total = 0.0
    for i in range(6):
        others = [a for a in range(6) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        log_denominator = math.log(sum(math.exp(float(z[i] @ z[a]) / tau) for a in others))
        total += -(tau / base) * sum(float(z[i] @ z[p]) / tau - log_denominator for p in positives) / len(positives)
    assert supcon(Z, labels, tau, base).item() == pytest.approx(total / 6)


def test_supcon_temperature_prefactor():
    labels = torch.tensor([0, 1, 0, 0, 1, 0])
    assert supcon(Z, labels, 0.1, 0.2).item() == pytest.approx(0.5 * supcon(Z, labels, 0.1, 0.1).item())


def test_cross_view_distillation_matches_formula():
    ts, tt = 0.1, 0.05
    p = F.softmax(LOGITS / ts, dim=1)
    q = F.softmax(LOGITS / tt, dim=1)
    terms = []
    for teacher_view, student_view in ((0, 1), (1, 0)):
        rows = [-(q[teacher_view * 3 + i] * torch.log(p[student_view * 3 + i])).sum() for i in range(3)]
        terms.append(sum(rows) / 3)
    assert cross_view_distillation(LOGITS, ts, tt).item() == pytest.approx(float(sum(terms) / 2))


def test_distillation_teacher_is_detached():
    logits = LOGITS.clone().requires_grad_(True)
    cross_view_distillation(logits, 0.1, 0.05).backward()
    expected_grad = torch.autograd.grad(
        -(F.softmax(LOGITS / 0.05, 1).chunk(2)[0] * F.log_softmax(logits / 0.1, 1).chunk(2)[1]).sum(1).mean() / 2
        - (F.softmax(LOGITS / 0.05, 1).chunk(2)[1] * F.log_softmax(logits / 0.1, 1).chunk(2)[0]).sum(1).mean() / 2,
        logits)[0]
    torch.testing.assert_close(logits.grad, expected_grad)


def test_mean_entropy_regulariser_matches_formula():
    p_mean = F.softmax(LOGITS / 0.1, dim=1).mean(0)
    entropy = -sum(float(p) * math.log(float(p)) for p in p_mean)
    assert mean_entropy_regulariser(LOGITS, 0.1).item() == pytest.approx(math.log(4) - entropy)
    uniform = torch.zeros(6, 4, dtype=torch.float64)
    assert mean_entropy_regulariser(uniform, 0.1).item() == pytest.approx(0.0, abs=1e-12)


def test_teacher_temperature_schedule():
    assert teacher_temperature(0, 30) == pytest.approx(0.07)
    assert teacher_temperature(29, 30) == pytest.approx(0.04)
    assert teacher_temperature(15, 30) == pytest.approx(0.07 - 0.03 * 15 / 29)
    assert teacher_temperature(100, 30) == 0.04

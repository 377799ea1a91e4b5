"""DebGCD's terms (methods/debgcd.py) against hand-computed values on small fixed tensors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.core.errors import GFaceError
from methods.debgcd import (DebGCDParams, DetectorMLP, certainty, debiased_pseudo_label_loss, ova_consistency,
                            ova_entropy, ova_knownness, ova_labelled_loss)

# two known classes; columns: "not class 0", "not class 1", "class 0", "class 1"
OVA = torch.tensor([[0.0, 1.0, 2.0, -1.0],
                    [1.5, 0.5, 0.0, 0.5],
                    [0.2, -0.3, 0.1, 0.4],
                    [-1.0, 2.0, 0.0, 0.0]])


def pair_probabilities(row) -> tuple[np.ndarray, np.ndarray]:
    """(p(class j), p(not class j)) for each known class j of one row."""
    row = np.asarray(row, dtype=np.float64)
    return 1 / (1 + np.exp(row[:2] - row[2:])), 1 / (1 + np.exp(row[2:] - row[:2]))


def test_ova_labelled_loss_takes_the_true_class_and_the_hardest_other_class():
    labels = torch.tensor([0, 1])
    expected_pos, expected_neg = [], []
    for row, y in zip(OVA[:2].tolist(), [0, 1]):
        is_j, not_j = pair_probabilities(row)
        expected_pos.append(-math.log(is_j[y]))
        expected_neg.append(max(-math.log(not_j[j]) for j in range(2) if j != y))
    assert ova_labelled_loss(OVA[:2], labels).item() == pytest.approx(np.mean(expected_pos) + np.mean(expected_neg),
                                                                      rel=1e-5)


def test_ova_entropy_is_the_mean_binary_entropy():
    h = []
    for row in OVA.tolist():
        is_j, not_j = pair_probabilities(row)
        h.extend(-(is_j * np.log(is_j) + not_j * np.log(not_j)))
    assert ova_entropy(OVA).item() == pytest.approx(np.mean(h), rel=1e-5)


def test_ova_consistency_sums_squared_differences_of_both_pair_entries():
    expected = []
    for a, b in ((0, 2), (1, 3)):  # view 1 of images 0, 1, then view 2
        is_a, not_a = pair_probabilities(OVA[a].tolist())
        is_b, not_b = pair_probabilities(OVA[b].tolist())
        expected.append(((is_a - is_b) ** 2).sum() + ((not_a - not_b) ** 2).sum())
    assert ova_consistency(OVA).item() == pytest.approx(np.mean(expected), rel=1e-5)
    assert ova_consistency(torch.cat([OVA[:2], OVA[:2]])).item() == 0.0


def test_certainty_and_knownness_read_the_most_likely_known_class():
    for i, row in enumerate(OVA.tolist()):
        is_j, not_j = pair_probabilities(row)
        top = int(np.argmax(is_j))
        assert certainty(OVA)[i].item() == pytest.approx(abs(2 * not_j[top] - 1), rel=1e-5)
        assert ova_knownness(OVA)[i].item() == pytest.approx(is_j.max(), rel=1e-5)


def test_certainty_is_detached():
    ova = OVA.clone().requires_grad_()
    assert not certainty(ova).requires_grad


def test_debiased_loss_keeps_confident_rows_weighted_by_certainty():
    debiased = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0], [0.5, 0.5, 0.0]])
    gcd = torch.tensor([[5.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 6.0]])  # rows 0 and 2 confident
    weights = torch.tensor([0.5, 1.0, 0.25])

    def ce(row, target):
        return -(row[target] - math.log(sum(math.exp(v) for v in row)))

    confident = [max(np.exp(r) / np.exp(r).sum()) >= 0.9 for r in gcd.numpy().astype(np.float64)]
    assert confident == [True, False, True]
    expected = (0.5 * ce([1.0, 0.0, -1.0], 0) + 0.25 * ce([0.5, 0.5, 0.0], 2)) / 3
    assert debiased_pseudo_label_loss(debiased, gcd, weights, 0.9).item() == pytest.approx(expected, rel=1e-5)
    gcd_grad, debiased_grad = gcd.clone().requires_grad_(), debiased.clone().requires_grad_()
    debiased_pseudo_label_loss(debiased_grad, gcd_grad, weights, 0.9).backward()
    assert gcd_grad.grad is None and debiased_grad.grad[1].abs().sum() == 0 and debiased_grad.grad[0].abs().sum() > 0


def test_empty_parts_contribute_zero_with_a_graph():
    empty = torch.zeros(0, 4, requires_grad=True)
    no_labels = torch.zeros(0, dtype=torch.long)
    for value in (ova_entropy(empty), ova_consistency(empty), ova_labelled_loss(empty, no_labels),
                  debiased_pseudo_label_loss(torch.zeros(0, 3, requires_grad=True), torch.zeros(0, 3),
                                             torch.zeros(0), 0.9)):
        assert value.item() == 0.0 and value.requires_grad


def test_detector_has_the_requested_linear_layers_and_two_logits_per_known_class():
    detector = DetectorMLP(8, 16, 4, layers=5, n_known=3)
    assert sum(isinstance(m, nn.Linear) for m in detector.mlp) == 5
    assert detector(torch.randn(2, 8)).shape == (2, 6)


def test_settings_are_checked():
    with pytest.raises(GFaceError, match="detector_layers"):
        DebGCDParams(detector_layers=1)
    with pytest.raises(GFaceError, match="debgcd.head"):
        DebGCDParams(head="hyperbolic")


def test_released_code_caps_minus_log_p_at_log_1e8():
    saturated = torch.tensor([[0.0, 0.0, 30.0, 30.0]])  # p(class 0) ~ 1, p(not class 1) ~ e^-30
    is_j, not_j = pair_probabilities(saturated[0].tolist())
    exact = -math.log(is_j[0]) - math.log(not_j[1])
    assert ova_labelled_loss(saturated, torch.tensor([0])).item() == pytest.approx(exact, abs=1e-4)
    capped = -math.log(is_j[0] + 1e-8) - math.log(not_j[1] + 1e-8)
    assert ova_labelled_loss(saturated, torch.tensor([0]), released_code=True).item() == pytest.approx(capped, abs=1e-4)
    assert capped < 18.5 < exact

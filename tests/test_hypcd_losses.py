"""HypCD's hyperbolic head (benchmark/training/hyperbolic_head.py, poincare.py) against hand-computed values on small
fixed tensors, and the head as a SimGCD option."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.training.hyperbolic_head import (HyperbolicClassifier, distance_weight, hybrid_contrastive_loss)
from benchmark.training.poincare import (clip_norm, expmap0, mobius_add, mobius_matvec, pairwise_distance,
                                         project)
from methods.debgcd import DebGCDParams
from methods.legogcd import LegoGCDParams
from methods.simgcd import SimGCDParams

C = 0.25  # ball radius 1 / sqrt(c) = 2


def test_clipping_scales_long_features_to_the_radius_and_keeps_short_ones():
    x = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    clipped = clip_norm(x, 2.0)
    assert clipped[0].tolist() == pytest.approx([1.2, 1.6], abs=1e-5)  # 2 / (5 + 1e-5) x
    assert clipped[1].tolist() == pytest.approx([0.3, 0.4])
    assert clip_norm(x, 0.0) is x


def test_exponential_map_at_the_origin():
    v = torch.tensor([[3.0, 4.0]])
    expected = math.tanh(0.5 * 5) / (0.5 * 5) * np.array([3.0, 4.0])  # tanh(sqrt(c)|v|) v / (sqrt(c)|v|)
    assert expmap0(v, C)[0].tolist() == pytest.approx(expected.tolist(), rel=1e-6)


def test_projection_pulls_points_inside_the_ball():
    x = torch.tensor([[3.0, 0.0], [1.0, 0.0]])
    assert project(x, C)[0].tolist() == pytest.approx([2 * (1 - 1e-3), 0.0])
    assert project(x, C)[1].tolist() == [1.0, 0.0]


def test_mobius_addition_matches_the_formula():
    x, y = torch.tensor([[0.5, 0.2]]), torch.tensor([[-0.3, 0.4]])
    xy, x2, y2 = -0.15 + 0.08, 0.29, 0.25
    numerator = (1 + 2 * C * xy + C * y2) * np.array([0.5, 0.2]) + (1 - C * x2) * np.array([-0.3, 0.4])
    expected = numerator / (1 + 2 * C * xy + C ** 2 * x2 * y2)
    assert mobius_add(x, y, C)[0].tolist() == pytest.approx(expected.tolist(), rel=1e-6)
    assert mobius_add(-x, x, C).abs().max().item() < 1e-7


def test_mobius_matvec_of_the_identity_is_the_identity_and_of_a_scaling_is_hyperbolic_scaling():
    x = torch.tensor([[0.5, 0.2], [-1.0, 0.3]])
    assert torch.allclose(mobius_matvec(torch.eye(2), x, C), x, atol=1e-6)
    # 2 ⊗ x = tanh(2 artanh(sqrt(c)|x|)) x / (sqrt(c)|x|)
    norm = math.hypot(0.5, 0.2)
    expected = math.tanh(2 * math.atanh(0.5 * norm)) / (0.5 * norm) * np.array([0.5, 0.2])
    assert mobius_matvec(2 * torch.eye(2), x[:1], C)[0].tolist() == pytest.approx(expected.tolist(), rel=1e-5)


def test_pairwise_distance_is_the_poincare_metric():
    x = torch.tensor([[0.5, 0.2], [-1.0, 0.3], [0.0, 0.0]])
    d = pairwise_distance(x, x, C).numpy()
    a = x.numpy().astype(np.float64)
    for i in range(3):
        for j in range(3):
            arg = 1 + 2 * C * ((a[i] - a[j]) ** 2).sum() / ((1 - C * (a[i] ** 2).sum()) * (1 - C * (a[j] ** 2).sum()))
            assert d[i, j] == pytest.approx(math.acosh(arg) / math.sqrt(C), abs=2e-4)
    assert d[2, 0] == pytest.approx(2 / math.sqrt(C) * math.atanh(math.sqrt(C) * math.hypot(0.5, 0.2)), rel=1e-5)


def test_classifier_with_identity_weight_and_zero_bias_returns_the_ball_point():
    head = HyperbolicClassifier(2, 2, C, clip_radius=1.0)
    with torch.no_grad():
        head.weight.copy_(torch.eye(2))
        head.bias.zero_()
    feats = torch.tensor([[3.0, 4.0]])
    ball = expmap0(torch.tensor([[0.6, 0.8]]), C)  # clipped to norm 1, then mapped
    assert torch.allclose(head.to_ball(feats), ball, rtol=1e-4)
    assert torch.allclose(head(feats), ball, rtol=1e-4)


def test_distance_weight_ramps_linearly_over_the_epochs():
    assert distance_weight(0, 200, 1.0, 1.0) == pytest.approx(1 / 200)
    assert distance_weight(99, 200, 1.0, 1.0) == pytest.approx(0.5)
    assert distance_weight(199, 200, 1.0, 1.0) == 1.0
    assert distance_weight(7, 16, 0.5, 0.8) == pytest.approx(0.8)


def log_prob_without_self(logits: np.ndarray, i: int) -> np.ndarray:
    """Row i of ``logits`` minus the log-sum-exp of its entries other than i."""
    return logits[i] - np.log(np.exp(np.delete(logits[i], i)).sum())


def test_hybrid_loss_matches_the_hand_computed_terms():
    ball = torch.tensor([[0.5, 0.2], [-1.0, 0.3], [0.4, 0.3], [-0.8, 0.1]])  # images 0, 1 then their second views
    labelled = torch.tensor([True, False, True, False])
    labels = torch.tensor([2, -1, 2, -1])
    lam, alpha, scale = 0.35, 0.25, 0.3
    a = ball.numpy().astype(np.float64)
    dist = np.array([[math.acosh(1 + 2 * C * ((a[i] - a[j]) ** 2).sum()
                                 / ((1 - C * (a[i] ** 2).sum()) * (1 - C * (a[j] ** 2).sum()))) / math.sqrt(C)
                      if i != j else 0.0 for j in range(4)] for i in range(4)])
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    cos = unit @ unit.T
    partner = [2, 3, 0, 1]

    def nce(sim, t):
        return np.mean([-log_prob_without_self(sim / t, i)[partner[i]] for i in range(4)])

    # rows 0 and 2 are the only labelled rows, each the other's only positive and only contrast: SupCon is 0
    distance = (1 - lam) * nce(-dist, 1.0)
    angle = (1 - lam) * nce(cos, scale)
    loss, logs = hybrid_contrastive_loss(ball, labelled, labels, lam, C, 1.0, 0.07, scale, alpha)
    assert logs["infonce_dist"] == pytest.approx(nce(-dist, 1.0), abs=1e-4)
    assert logs["infonce_angle"] == pytest.approx(nce(cos, scale), rel=1e-5)
    assert logs["supcon_dist"] == pytest.approx(0.0, abs=1e-6) and logs["supcon_angle"] == pytest.approx(0.0, abs=1e-6)
    assert loss.item() == pytest.approx((1 - alpha) * angle + alpha * distance, abs=1e-4)


def test_supcon_terms_average_every_positive_of_every_labelled_row():
    ball = torch.tensor([[0.5, 0.2], [0.4, 0.3], [-1.0, 0.3], [0.45, 0.25], [0.3, 0.3], [-0.9, 0.2]])
    labelled = torch.ones(6, dtype=torch.bool)
    labels = torch.tensor([0, 0, 1, 0, 0, 1])
    _, logs = hybrid_contrastive_loss(ball, labelled, labels, 0.35, C, 1.0, 0.07, 0.5, 0.0)
    a = ball.numpy().astype(np.float64)
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    dist = np.array([[math.acosh(max(1.0, 1 + 2 * C * ((a[i] - a[j]) ** 2).sum()
                                     / ((1 - C * (a[i] ** 2).sum()) * (1 - C * (a[j] ** 2).sum())))) / math.sqrt(C)
                      for j in range(6)] for i in range(6)])

    def supcon(sim):
        terms = []
        for i in range(6):
            log_prob = log_prob_without_self(sim, i)
            terms.append(-np.mean([log_prob[j] for j in range(6) if j != i and labels[j] == labels[i]]))
        return np.mean(terms)

    assert logs["supcon_angle"] == pytest.approx(supcon(unit @ unit.T / (0.07 * 0.5)), rel=1e-5)
    assert logs["supcon_dist"] == pytest.approx(supcon(-dist / 0.07), rel=1e-3)


def test_head_settings_are_checked():
    with pytest.raises(GFaceError, match="simgcd.head='poincare'"):
        SimGCDParams(head="poincare")
    with pytest.raises(GFaceError, match="curvature"):
        SimGCDParams(head="hyperbolic", curvature=0.0)
    with pytest.raises(GFaceError, match="rebalance"):
        SimGCDParams(head="hyperbolic", rebalance=1.0, view_bank=0)
    with pytest.raises(GFaceError, match="simgcd.clip_radius=-1"):
        SimGCDParams(head="hyperbolic", clip_radius=-1.0)
    with pytest.raises(GFaceError, match="legogcd.distance_weight_max=1.5"):
        LegoGCDParams(head="hyperbolic", distance_weight_max=1.5)
    with pytest.raises(GFaceError, match="legogcd.head"):
        LegoGCDParams(head="x")
    with pytest.raises(GFaceError, match="debgcd.head"):
        DebGCDParams(head="hyperbolic")
    SimGCDParams(head="hyperbolic")


def test_simgcd_runs_with_the_hyperbolic_head(run_dirs):
    runs, cache = run_dirs
    sets = ["epochs=1", "batch_size=16", "teacher_warmup_epochs=1", "head=hyperbolic"]
    assert main(["--methods", "simgcd", "--protocols", "toy-cnn", *[x for s in sets for x in ("--set", f"simgcd.{s}")],
                 "--no-leaderboard", "--keep-checkpoints", "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    record = json.loads(next(runs.glob("toy-cnn/simgcd/*/record.json")).read_text())
    assert record["method"]["params"]["head"] == "hyperbolic" and 0 <= record["results"]["unlabelled_train"]["all"] <= 1
    state = torch.load(next(runs.glob("toy-cnn/simgcd/*/checkpoint.pt")), weights_only=True)
    assert "prototypes.bias" in state["model"] and not any(k.startswith("projector.") for k in state["model"])


def test_released_code_adds_the_bias_at_unit_curvature():
    paper = HyperbolicClassifier(2, 2, C, clip_radius=0.0)
    release = HyperbolicClassifier(2, 2, C, clip_radius=0.0, released_code=True)
    for head in (paper, release):
        with torch.no_grad():
            head.weight.copy_(torch.eye(2))
            head.bias.copy_(torch.tensor([0.3, -0.2]))
    ball = torch.tensor([[0.5, 0.2]])
    bias = expmap0(torch.tensor([[0.3, -0.2]]), C)
    assert torch.allclose(paper.classify(ball), mobius_add(ball, bias, C), atol=1e-6)
    assert torch.allclose(release.classify(ball), mobius_add(ball, bias, 1.0), atol=1e-6)
    assert not torch.allclose(paper.classify(ball), release.classify(ball), atol=1e-3)

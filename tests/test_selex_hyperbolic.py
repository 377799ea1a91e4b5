"""HypCD's hyperbolic head on SelEx (``selex.head=hyperbolic``, methods/selex.py) against hand-computed values on
small fixed tensors; the default cosine head unchanged; the committed selex runs keep their ids."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.plan import expand
from benchmark.training.hyperbolic_head import distance_weight
from benchmark.training.trainer import Batch
from methods.gcd import GCDNetwork
from methods.selex import (RowsSeen, SelEx, SelExParams, StepInputs, hyperbolic_self_expertise_loss,
                           self_expertise_targets, hierarchical_confusion, self_expertise_loss,
                           supervised_self_expertise, unsupervised_self_expertise)

C, R = 0.25, 2.0  # ball radius 1 / sqrt(c) = 2; clipping radius 2
# 3 images x 2 views (rows: images 0, 1, 2, then their second views), head outputs of dimension 4
HEAD = torch.tensor([[3.0, 4.0, 0.0, 0.0], [0.2, -0.1, 0.3, 0.1], [-1.0, 0.5, 0.5, 2.0],
                     [2.0, 3.0, 1.0, 0.0], [0.1, -0.2, 0.2, 0.3], [-2.0, 1.0, 0.0, 1.0]])
LABELS = torch.tensor([1, 1, -1]).repeat(2)
LABELLED = torch.tensor([True, True, False]).repeat(2)
LEVELS = torch.tensor([[1, 1, 0], [0, 0, 0]]).repeat(1, 2)  # level 0: images 0, 1 together; level 1: one cluster
TARGETS = self_expertise_targets(hierarchical_confusion(LEVELS), alpha=0.5)
STEP = StepInputs(TARGETS, LABELS, LABELLED, LEVELS)
PARAMS = SelExParams(head="hyperbolic", curvature=C, clip_radius=R)  # λ 0.35, τ_u 1.0, τ_s 0.07


def ball_by_hand(v: np.ndarray) -> np.ndarray:
    """min(1, r / ||v||) v, then tanh(sqrt(c) ||v||) v / (sqrt(c) ||v||)."""
    v = v * min(1.0, R / np.linalg.norm(v))
    n = np.linalg.norm(v)
    return math.tanh(math.sqrt(C) * n) * v / (math.sqrt(C) * n)


def geodesic(a: np.ndarray, b: np.ndarray) -> float:
    """arcosh(1 + 2c ||a - b||² / ((1 - c||a||²)(1 - c||b||²))) / sqrt(c)."""
    arg = 1 + 2 * C * ((a - b) ** 2).sum() / ((1 - C * (a ** 2).sum()) * (1 - C * (b ** 2).sum()))
    return math.acosh(max(arg, 1.0)) / math.sqrt(C)


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def unsup_by_hand(points: np.ndarray, distance, targets: np.ndarray, tau: float) -> float:
    """mean_a Σ_j -T_aj log softmax_{j ≠ a}(-d(a, j) / τ)."""
    total = 0.0
    for a in range(len(points)):
        others = [j for j in range(len(points)) if j != a]
        log_norm = math.log(sum(math.exp(-distance(points[a], points[j]) / tau) for j in others))
        total += -sum(targets[a, j] * (-distance(points[a], points[j]) / tau - log_norm) for j in others)
    return total / len(points)


def supcon_by_hand(points: np.ndarray, labels: list[int], distance, tau: float) -> float:
    """-mean_a mean_{p: y_p = y_a, p ≠ a} [-d(a, p) / τ - log Σ_{j ≠ a} exp(-d(a, j) / τ)]; 0 for a row without
    positives."""
    total = 0.0
    for a in range(len(points)):
        others = [j for j in range(len(points)) if j != a]
        positives = [j for j in others if labels[j] == labels[a]]
        log_norm = math.log(sum(math.exp(-distance(points[a], points[j]) / tau) for j in others))
        if positives:
            total += -np.mean([-distance(points[a], points[p]) / tau - log_norm for p in positives])
    return total / len(points)


def self_expertise_by_hand(points: np.ndarray, distance) -> tuple[float, float]:
    """L_u and L_s: SupCon on the labelled rows + level 0 on the first 2 dimensions / 2 + level 1 on the first / 4."""
    unsup = unsup_by_hand(points, distance, TARGETS.numpy().astype(np.float64), 1.0)
    rows = np.flatnonzero(LABELLED.numpy())
    sup = supcon_by_hand(points[rows], LABELS[rows].tolist(), distance, 0.07)
    sup += supcon_by_hand(points[:, :2], LEVELS[0].tolist(), distance, 0.07) / 2
    sup += supcon_by_hand(points[:, :1], LEVELS[1].tolist(), distance, 0.07) / 4
    return unsup, sup


def test_distance_and_angle_terms_match_the_hand_computed_values():
    ball = np.stack([ball_by_hand(v) for v in HEAD.numpy().astype(np.float64)])
    directions = ball / np.linalg.norm(ball, axis=1, keepdims=True)
    alpha, lam = 0.3, 0.35
    unsup_d, sup_d = self_expertise_by_hand(ball, geodesic)
    unsup_a, sup_a = self_expertise_by_hand(directions, euclidean)
    loss, logs = hyperbolic_self_expertise_loss(HEAD, STEP, PARAMS, alpha)
    assert logs["self_expertise_u_dist"] == pytest.approx(unsup_d, rel=1e-4)
    assert logs["self_expertise_s_dist"] == pytest.approx(sup_d, rel=1e-4)
    assert logs["self_expertise_u_angle"] == pytest.approx(unsup_a, rel=1e-5)
    assert logs["self_expertise_s_angle"] == pytest.approx(sup_a, rel=1e-5)
    expected = ((1 - alpha) * ((1 - lam) * unsup_a + lam * sup_a / 2)
                + alpha * ((1 - lam) * unsup_d + lam * sup_d / 2))
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_released_code_puts_the_angle_terms_on_the_raw_ball_points():
    ball = np.stack([ball_by_hand(v) for v in HEAD.numpy().astype(np.float64)])
    unsup, sup = self_expertise_by_hand(ball, euclidean)
    released = SelExParams(head="hyperbolic", curvature=C, clip_radius=R, hyperbolic_released_code=True)
    loss, logs = hyperbolic_self_expertise_loss(HEAD, STEP, released, alpha=0.0)
    assert logs["self_expertise_u_angle"] == pytest.approx(unsup, rel=1e-5)
    assert logs["self_expertise_s_angle"] == pytest.approx(sup, rel=1e-5)
    assert loss.item() == pytest.approx(0.65 * unsup + 0.35 * sup / 2, rel=1e-5)


def test_the_paper_readings_angle_terms_are_the_cosine_heads_loss():
    cosine, _, _ = self_expertise_loss(F.normalize(HEAD, dim=-1), STEP, PARAMS)
    angle_only, _ = hyperbolic_self_expertise_loss(HEAD, STEP, PARAMS, alpha=0.0)
    assert angle_only.item() == pytest.approx(cosine.item(), rel=1e-6)


def _selex_with_one_batch(params: SelExParams) -> tuple[SelEx, GCDNetwork, Batch]:
    """A SelEx whose step sees 3 images (task rows 0-2) with LEVELS as their pseudo-labels, and a tiny network."""
    method = SelEx(params)
    method._slot = np.arange(3)
    method._seen = RowsSeen(lambda rows, generator: None)
    method._seen.rows = np.arange(3)
    method._levels = LEVELS[:, :3]
    torch.manual_seed(0)
    network = GCDNetwork(nn.Linear(5, 6), nn.Linear(6, 4))
    batch = Batch(torch.randn(6, 5), torch.tensor([1, 1, -1]), torch.tensor([True, True, False]), epoch=3, step=0,
                  total_steps=10)
    return method, network, batch


def test_the_default_cosine_head_leaves_selex_loss_exactly_unchanged():
    p = SelExParams()
    assert p.head == "cosine"
    method, network, batch = _selex_with_one_batch(p)
    loss, logs = method._step(network, batch)
    z = F.normalize(network.head(network.backbone(batch.views)), dim=-1)
    targets = self_expertise_targets(hierarchical_confusion(LEVELS), p.unsupervised_smoothing)
    unsup = unsupervised_self_expertise(z, targets, p.info_nce_temperature)  # SelEx's terms as before the option
    sup = supervised_self_expertise(z, LABELS, LABELLED, LEVELS, p.supcon_temperature)
    assert torch.equal(loss, (1 - p.sup_con_weight) * unsup + p.sup_con_weight * sup / 2)
    assert logs == {"self_expertise_u": unsup.item(), "self_expertise_s": sup.item()}


def test_the_hyperbolic_step_ramps_the_distance_weight_over_the_epochs():
    p = SelExParams(head="hyperbolic", epochs=10, distance_weight_max=0.5)
    method, network, batch = _selex_with_one_batch(p)
    loss, _ = method._step(network, batch)
    head_output = network.head(network.backbone(batch.views))
    targets = self_expertise_targets(hierarchical_confusion(LEVELS), p.unsupervised_smoothing)
    alpha = distance_weight(3, 10, 1.0, 0.5)
    assert alpha == pytest.approx(0.2)  # (3 + 1) / 10 x 0.5
    expected, _ = hyperbolic_self_expertise_loss(head_output, StepInputs(targets, LABELS, LABELLED, LEVELS), p, alpha)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


COMMITTED_PARAMS = {  # leaderboard/results/synthface-v4-basic/runs.csv, selex, split0-rep0-dd94ec7691
    "batch_size": 128, "crop_pct": 0.875, "epochs": 16, "estimate_k": False, "head_bottleneck_dim": 256,
    "head_hidden_dim": 512, "head_out_dim": 4096, "info_nce_temperature": 1.0, "k_max": 60, "kmeans_seed": 0,
    "lr": 0.1, "max_iter": 200, "momentum": 0.9, "n_init": 10, "pseudo_label_iters": 10, "released_code": False,
    "sup_con_weight": 0.35, "supcon_temperature": 0.07, "unsupervised_smoothing": 0.1, "view_bank": 32,
    "weight_decay": 5e-05}


def test_default_selex_params_and_run_ids_are_those_of_the_committed_runs():
    default = expand(["selex"], ["synthface-v4-basic"], 1, {})
    assert default[0].params == COMMITTED_PARAMS and SelEx.version == 1  # the id hashes params and version
    assert SelEx.Params(**default[0].params).head == "cosine"
    hyperbolic = expand(["selex"], ["synthface-v4-basic"], 1, {"selex": {"head": "hyperbolic"}})
    assert hyperbolic[0].params == {**COMMITTED_PARAMS, "head": "hyperbolic"}
    assert {s.run_id for s in hyperbolic}.isdisjoint(s.run_id for s in default)


def test_bad_settings_are_one_clear_error():
    with pytest.raises(GFaceError, match="selex.head='poincare'"):
        SelExParams(head="poincare")
    with pytest.raises(GFaceError, match="selex.curvature=0.0 must be positive"):
        SelExParams(head="hyperbolic", curvature=0.0)
    with pytest.raises(GFaceError, match="selex.curvature=-0.1"):
        SelExParams(head="hyperbolic", curvature=-0.1)
    with pytest.raises(GFaceError, match="selex.clip_radius"):
        SelExParams(head="hyperbolic", clip_radius=-1.0)
    with pytest.raises(GFaceError, match="selex.distance_weight_max"):
        SelExParams(head="hyperbolic", distance_weight_max=1.5)
    SelExParams(head="hyperbolic", clip_radius=0.0, distance_weight_max=0.5)


def test_selex_runs_with_the_hyperbolic_head(run_dirs):
    runs, cache = run_dirs
    sets = ["epochs=1", "batch_size=16", "head_hidden_dim=32", "head_out_dim=64", "n_init=2", "k_max=60",
            "pseudo_label_iters=3", "head=hyperbolic"]
    assert main(["--methods", "selex", "--protocols", "toy-cnn", *[x for s in sets for x in ("--set", f"selex.{s}")],
                 "--no-leaderboard", "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    record = json.loads(next(runs.glob("toy-cnn/selex/*/record.json")).read_text())
    assert record["method"]["params"]["head"] == "hyperbolic" and 0 <= record["results"]["unlabelled_train"]["all"] <= 1

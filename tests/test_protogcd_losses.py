"""ProtoGCD's terms (methods/protogcd.py) against their formulas on small fixed tensors, and its K estimate."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from benchmark import runner
from benchmark.core.errors import GFaceError
from benchmark.method import TaskShape
from benchmark.plan import expand
from benchmark.training.heads import CosineLinear
from benchmark.training.losses import cross_view_cross_entropy, info_nce, mean_entropy_regulariser, supcon
from methods.protogcd import (ProtoGCD, ProtoGCDParams, adaptive_pseudo_labels, hard_ratio, prototype_score,
                              prototype_separation)
from tests.test_legogcd_losses import tiny_network_and_batch


def test_dapl_makes_the_most_confident_rows_one_hot_and_keeps_the_others_soft():
    teacher = torch.tensor([[0.6, 0.3, 0.1],     # top-1 / top-2 = 2
                            [0.9, 0.05, 0.05],   # 18
                            [0.2, 0.5, 0.3],     # 1.67
                            [0.1, 0.1, 0.8]])    # 8
    targets = adaptive_pseudo_labels(teacher, 0.5)  # int(4 * 0.5) = 2 hard rows: 1 and 3
    expected = torch.tensor([[0.6, 0.3, 0.1], [1.0, 0.0, 0.0], [0.2, 0.5, 0.3], [0.0, 0.0, 1.0]])
    assert torch.equal(targets, expected)
    assert torch.equal(adaptive_pseudo_labels(teacher, 0.0), teacher)
    assert torch.equal(adaptive_pseudo_labels(teacher, 1.0).argmax(1), teacher.argmax(1))
    assert adaptive_pseudo_labels(teacher, 1.0).max(1).values.tolist() == [1.0] * 4
    assert int(4 * 0.74) == 2 and adaptive_pseudo_labels(teacher, 0.74).eq(1).sum() == 2  # int() floors


def test_hard_ratio_waits_then_ramps_linearly_as_linspace_then_stays():
    p = ProtoGCDParams(hard_ratio_wait_epochs=2, hard_ratio_ramp_epochs=5, hard_ratio_start=0.0, hard_ratio_end=1.0)
    ratios = [hard_ratio(e, p) for e in range(9)]
    assert ratios == pytest.approx([0, 0] + list(np.linspace(0, 1, 5)) + [1, 1])
    assert hard_ratio(0, ProtoGCDParams(hard_ratio_ramp_epochs=0)) == 1.0


def test_prototype_separation_is_the_mean_log_mean_exp_of_the_other_cosines():
    weight = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # cosines: (1,2) 0, (1,3) and (2,3) 1/sqrt(2)
    c, tau = 1 / math.sqrt(2), 0.1
    per_row = [math.log((math.exp(0) + math.exp(c / tau)) / 2), math.log((math.exp(0) + math.exp(c / tau)) / 2),
               math.log((math.exp(c / tau) + math.exp(c / tau)) / 2)]
    assert prototype_separation(weight, tau).item() == pytest.approx(np.mean(per_row), rel=1e-5)


def test_prototype_score_terms():
    prototypes = CosineLinear(2, 3)
    prototypes.weight.data = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    feats_l = np.array([[1.0, 0.1], [2.0, -0.1], [0.1, 1.0]], dtype=np.float32)  # predicted 0, 0, 1
    labelled_y = np.array([0, 0, 1])
    feats_u = np.array([[1.0, 0.0], [1.0, 0.9], [-1.0, 0.2]], dtype=np.float32)  # predicted 0, 0, 2
    terms = prototype_score(feats_l, labelled_y, feats_u, prototypes, n_known=2)
    assert terms["accuracy"] == 1.0
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    centroid_l0 = (unit(feats_l[0]) + unit(feats_l[1])) / 2
    centroid_u0 = (unit(feats_u[0]) + unit(feats_u[1])) / 2
    cos0 = centroid_l0 @ centroid_u0 / np.linalg.norm(centroid_l0) / np.linalg.norm(centroid_u0)
    assert terms["centroid"] == pytest.approx((cos0 + 0.0) / 2, rel=1e-5)  # class 1 has no D_U row: 0


def test_check_asks_for_k_max_above_k_old_only_when_k_is_not_given():
    shape = TaskShape("p", 100, 100, 10, n_known=6, n_classes=None)
    with pytest.raises(GFaceError, match="protogcd.k_max=6"):
        ProtoGCD(ProtoGCDParams(k_max=6)).check(shape)
    ProtoGCD(ProtoGCDParams(k_max=6)).check(dataclasses.replace(shape, n_classes=8))


def test_without_k_one_model_per_candidate_and_the_best_prototype_score_wins(run_dirs, tmp_path, monkeypatch):
    captured = {}
    scored = runner.score_predictions
    monkeypatch.setattr(runner, "score_predictions",
                        lambda predictions, split, n_known: captured.update(p=predictions) or scored(
                            predictions, split, n_known))
    spec = expand(["protogcd"], ["toy-cnn-k-unknown"], 1, {}, profile="smoke")[0]
    record = runner.run_one(spec, runner.Environment(tmp_path / "runs", tmp_path / "cache", None,
                                                     torch.device("cpu")))
    info = captured["p"].info
    assert record["K"] == {"value": 4, "given": False, "estimated": info["k_used"]}
    assert set(info["k_estimates"]) == {"3", "4"}  # K_old = 2, smoke k_max = 4
    best = max(info["k_estimates"], key=lambda k: (info["k_estimates"][k]["score"], -int(k)))
    assert info["k_used"] == int(best) and isinstance(info["k_used"], int)
    for terms in info["k_estimates"].values():
        assert terms["score"] == pytest.approx(terms["accuracy"] + terms["centroid"])
    assert max(captured["p"].clusters["test"]) < info["k_used"]


def test_step_weights_dapl_entropy_and_separation_inside_the_unsupervised_share():
    params = ProtoGCDParams(hard_ratio_ramp_epochs=3, separation_weight=0.5)
    network, batch = tiny_network_and_batch()
    z, logits = network(batch.views)
    labelled, labels = batch.is_labelled.repeat(2), batch.labels.repeat(2)
    teacher = torch.softmax(logits.detach() / 0.05, dim=1)
    targets = torch.cat([adaptive_pseudo_labels(view, 0.0) for view in teacher.chunk(2)])  # epoch 0: r = 0
    dapl = cross_view_cross_entropy(logits, 0.1, targets)
    unsupervised = (dapl + 2.0 * mean_entropy_regulariser(logits, 0.1)
                    + 0.5 * prototype_separation(network.prototypes.weight, 0.1))
    supervised = torch.nn.functional.cross_entropy(logits[labelled] / 0.1, labels[labelled])
    expected = (0.65 * unsupervised + 0.35 * supervised + 0.65 * info_nce(z, 1.0)
                + 0.35 * supcon(z[labelled], labels[labelled], 0.07))
    loss, logs = ProtoGCD(params)._step(network, batch)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert logs["dapl"] == pytest.approx(dapl.item(), rel=1e-5)

"""Face2Exp: the UDA consistency, the circuit feedback, the adaptation network's own SGD and its checkpointed state,
the class-balanced labelled subset (methods/README.md, "Face2Exp")."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from benchmark.core.registry import METHODS
from benchmark.training.trainer import OptimConfig
from methods.face2exp import (BaseAndAdaptation, WithFacePool, circuit_feedback, class_balanced_subset, cosine_lr,
                              soft_pseudo_label_consistency)


def test_consistency_is_the_soft_cross_entropy_to_the_tempered_weak_prediction():
    weak = torch.tensor([[math.log(3.0), 0.0]])  # softmax at T = 1: (3/4, 1/4)
    strong = torch.tensor([[0.0, 0.0]])  # log softmax: (-log 2, -log 2)
    assert soft_pseudo_label_consistency(weak, strong, 1.0).item() == pytest.approx(math.log(2))
    strong = torch.tensor([[math.log(3.0), 0.0]])  # log softmax: (log 3/4, log 1/4)
    expected = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert soft_pseudo_label_consistency(weak, strong, 1.0).item() == pytest.approx(expected)
    # T = 0.5 squares the odds: (9/10, 1/10)
    expected_t = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25))
    assert soft_pseudo_label_consistency(weak, strong, 0.5).item() == pytest.approx(expected_t)


def test_consistency_sends_no_gradient_to_the_weak_view():
    weak = torch.tensor([[1.0, -1.0]], requires_grad=True)
    strong = torch.tensor([[0.5, 0.0]], requires_grad=True)
    soft_pseudo_label_consistency(weak, strong, 1.0).backward()
    assert weak.grad is None and strong.grad is not None


def test_feedback_is_the_loss_drop_times_the_cross_entropy_on_the_pseudo_labels():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], requires_grad=True)
    labels = torch.tensor([0, 1])
    term, h = circuit_feedback(torch.tensor(1.5), torch.tensor(1.2), logits, labels)
    ce = (math.log(2) + math.log(4)) / 2  # -log 1/2 and -log 1/4
    assert h == pytest.approx(0.3)
    assert term.item() == pytest.approx(0.3 * ce)
    term.backward()  # d/dlogits of h * CE: h * (softmax - onehot) / N
    torch.testing.assert_close(logits.grad, 0.3 * torch.tensor([[-0.5, 0.5], [0.75, -0.75]]) / 2)


def test_feedback_reverses_when_the_pseudo_labels_hurt_the_adaptation_network():
    logits = torch.zeros(1, 2)
    term, h = circuit_feedback(torch.tensor(1.0), torch.tensor(1.4), logits, torch.tensor([0]))
    assert h == pytest.approx(-0.4) and term.item() == pytest.approx(-0.4 * math.log(2))


def test_cosine_lr_matches_the_schedule_fit_steps():
    model = nn.Linear(2, 2)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=5, eta_min=0.1 * 1e-3)
    for epoch in range(5):
        assert cosine_lr(0.1, epoch, 5, 1e-3) == pytest.approx(optimiser.param_groups[0]["lr"], rel=1e-9)
        optimiser.step()
        schedule.step()


def _networks() -> BaseAndAdaptation:
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.classifier = nn.Linear(3, 3), nn.Linear(3, 2)

        def forward(self, x):
            return self.body(x)

    torch.manual_seed(0)
    return BaseAndAdaptation(Tiny(), Tiny(), OptimConfig(4, 2, 0.5, 0.9, 0.0, decay_1d=True))


def test_adaptation_step_is_sgd_at_the_epoch_lr_and_touches_only_the_adaptation_network():
    networks = _networks()
    base_before = [p.detach().clone() for p in networks.base.parameters()]
    weight = networks.adaptation.classifier.weight
    before = weight.detach().clone()
    loss = networks.adaptation.classifier(networks.adaptation(torch.ones(1, 3))).sum()
    grad = torch.autograd.grad(loss, weight, retain_graph=True)[0]
    networks.step_adaptation(loss, epoch=2)
    # the first step has no momentum yet: plain SGD
    torch.testing.assert_close(weight.detach(), before - cosine_lr(0.5, 2, 4, 1e-3) * grad)
    assert all(p.grad is None for p in networks.parameters())
    assert all(torch.equal(a, b) for a, b in zip(base_before, networks.base.parameters()))


def test_adaptation_optimiser_state_travels_in_the_state_dict():
    networks = _networks()
    networks.step_adaptation(networks.adaptation.classifier(networks.adaptation(torch.ones(1, 3))).sum(), 0)
    restored = _networks()
    restored.load_state_dict(networks.state_dict())
    saved = networks.adaptation_optimiser.state_dict()["state"]
    loaded = restored.adaptation_optimiser.state_dict()["state"]
    assert saved.keys() == loaded.keys() and saved
    for key in saved:
        torch.testing.assert_close(saved[key]["momentum_buffer"], loaded[key]["momentum_buffer"])


def test_balanced_subset_takes_the_smallest_class_count_of_every_class():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    subset = class_balanced_subset(labels, seed=3)
    assert np.bincount(labels[subset]).tolist() == [2, 2, 2]
    assert len(np.unique(subset)) == 6 and np.all(np.diff(subset) > 0)
    assert np.array_equal(subset, class_balanced_subset(labels, seed=3))
    assert np.array_equal(class_balanced_subset(np.array([1, 0, 1, 0]), seed=0), np.arange(4))


def _toy_face2exp_training(work_dir, crash_in_epoch=None) -> dict:
    """Three epochs of Face2Exp's step on the toy data through ``fit``; optionally killed in one epoch."""
    from benchmark.training.closed_set import ClosedSetNetwork
    from benchmark.training.trainer import fit, image_views
    from methods.face2exp import Face2Exp, Face2ExpParams, weak_and_erased_views
    from tests.toy_plugins import toy_cnn, toy_data

    data, backbone = toy_data(), toy_cnn(None)
    labelled = np.flatnonzero(data.is_train & (data.labels < 2))[::2]
    unlabelled = np.setdiff1d(np.flatnonzero(data.is_train), labelled)
    method = Face2Exp(Face2ExpParams(epochs=3, batch_size=16))
    optim = OptimConfig(3, 16, 0.05, 0.9, 0.0, decay_1d=True)
    torch.manual_seed(0)
    networks = BaseAndAdaptation(*(ClosedSetNetwork(backbone, 2, False, "face2exp") for _ in range(2)), optim)

    def step(model, batch):
        if batch.epoch == crash_in_epoch:
            raise KeyboardInterrupt  # as if the process were killed mid-epoch
        return method._step(model, batch)

    views = image_views(data.images, torch.device("cpu"), weak_and_erased_views(backbone, 0.875, 1.0))
    fit(networks, step, views, labelled, data.labels[labelled], unlabelled, optim, work_dir, seed=7,
        device=torch.device("cpu"), desc="toy face2exp")
    return networks.state_dict()


def test_killed_face2exp_training_resumes_to_identical_weights_and_adaptation_momentum(tmp_path):
    uninterrupted = _toy_face2exp_training(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        _toy_face2exp_training(tmp_path / "b", crash_in_epoch=2)
    resumed = _toy_face2exp_training(tmp_path / "b")
    tensors = [k for k, v in uninterrupted.items() if torch.is_tensor(v)]
    assert any(k.startswith("adaptation.") for k in tensors) and any(k.startswith("base.") for k in tensors)
    for key in tensors:
        torch.testing.assert_close(resumed[key], uninterrupted[key], rtol=0, atol=0)
    saved, loaded = uninterrupted["_extra_state"]["state"], resumed["_extra_state"]["state"]
    momentum = [(saved[i]["momentum_buffer"], loaded[i]["momentum_buffer"]) for i in saved]
    assert momentum
    for a, b in momentum:
        torch.testing.assert_close(b, a, rtol=0, atol=0)
    base_moved = [k for k in tensors if k.startswith("base.backbone")
                  and not torch.equal(uninterrupted[k], uninterrupted[k.replace("base.", "adaptation.", 1)])]
    assert base_moved  # the two networks trained differently


def test_the_face_pool_follows_the_task_rows_and_joins_d_u(run_dirs, tmp_path, monkeypatch):
    """face2exp.face_pool: the dataset's unlabelled faces appended to the task's images, trained on as D_U rows."""
    from tests.test_conformance import smoke_run

    own = np.arange(5 * 4 * 4 * 3, dtype=np.uint8).reshape(5, 4, 4, 3)
    pool = np.full((3, 4, 4, 3), 200, dtype=np.uint8)
    joined = WithFacePool(own, pool)
    assert len(joined) == 8 and np.array_equal(joined[np.array([6, 1, 5])], np.stack([pool[1], own[1], pool[0]]))

    monkeypatch.setitem(METHODS.get("face2exp").profiles, "smoke", {"epochs": 1, "batch_size": 16, "face_pool": 24})
    _, split, record = smoke_run("face2exp", "toy-cnn", tmp_path, monkeypatch)
    assert record["info"]["unlabelled_rows_used"] == len(split.unlabelled_idx) + 24
    assert len(list((tmp_path / "cache").rglob("face-pool-toy-grey-8px-24.npy"))) == 1


def test_synthface_offers_expression_blind_faces_of_its_image_size():
    from datasets.synthface.pretraining_faces import face_pool

    faces = face_pool(4, image_size=24)
    assert faces.shape == (4, 24, 24, 3) and faces.dtype == np.uint8
    assert np.array_equal(face_pool(4, image_size=24), faces)


def test_the_base_network_is_scored_as_the_runs_reference(run_dirs, tmp_path, monkeypatch):
    """BN's closed-set predictions come back as reference_clusters: the scorer's closed_accuracy_reference, saved in
    predictions.npz; the record keeps how often BN and AN agree."""
    from benchmark.core.scorer import closed_set_scores
    from tests.test_conformance import smoke_run

    predictions, split, record = smoke_run("face2exp", "toy-cnn", tmp_path, monkeypatch)
    n_known = split.protocol.n_known
    for eval_set in split.protocol.eval_sets:
        base = np.asarray(split.pooled(predictions.reference_clusters, eval_set))
        expected = closed_set_scores(split.labels(eval_set), base, n_known)
        results = record["results"][eval_set]
        assert results["closed_accuracy_reference"] == pytest.approx(expected["closed_accuracy"], nan_ok=True)
        assert results["closed_mca_reference"] == pytest.approx(expected["closed_mca"], nan_ok=True)
    for eval_set, share in record["info"]["base_agreement"].items():
        agree = np.mean(predictions.clusters[eval_set] == predictions.reference_clusters[eval_set])
        assert share == pytest.approx(agree, abs=1e-6)
    saved = np.load(next((tmp_path / "runs").rglob("predictions.npz")), allow_pickle=False)
    assert np.array_equal(saved["reference_clusters_test"], predictions.reference_clusters["test"])

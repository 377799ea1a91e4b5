"""CMS (methods/cms.py): the kNN mean-shift step, the release's contrastive mean-shift loss, the inference rounds and
their stopping rule, the agglomerative K search, and the trainer's epoch-start hook that refreshes the memory."""
import math

import joblib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.core.errors import GFaceError
from benchmark.core.registry import PROTOCOLS
from benchmark.training.losses import info_nce
from benchmark.training.trainer import Batch, OptimConfig, fit, image_views
import methods.cms as cms
from tests.test_conformance import smoke_run
from tests.toy_plugins import toy_data

# four unit vectors of the plane at 0, 10, 90 and 180 degrees
ANGLES = torch.tensor([0.0, 10.0, 90.0, 180.0]) * math.pi / 180
MEMORY = torch.stack([ANGLES.cos(), ANGLES.sin()], dim=1)


def test_knn_mean_averages_the_k_most_similar_memory_rows():
    query = torch.tensor([[1.0, 0.0]])  # nearest: 0 deg (cos 1), 10 deg (cos 0.985), then 90 deg (cos 0)
    expected = (MEMORY[0] + MEMORY[1]) / 2
    torch.testing.assert_close(cms.knn_mean(query, MEMORY, 2, skip_nearest=False)[0], expected)
    expected_skip = (MEMORY[1] + MEMORY[2]) / 2  # the query itself (0 deg) left out
    torch.testing.assert_close(cms.knn_mean(query, MEMORY, 2, skip_nearest=True)[0], expected_skip)


def test_knn_mean_is_the_same_in_blocks():
    queries = F.normalize(torch.randn(7, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    torch.testing.assert_close(cms.knn_mean(queries, queries, 3, True, block=2), cms.knn_mean(queries, queries, 3, True))


def test_mean_shift_mixes_the_embedding_with_its_neighbours_mean():
    v, m = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 4.0]])
    torch.testing.assert_close(cms.mean_shift(v, m, 0.25), torch.tensor([[1.5, 1.0]]))  # 0.75 v + 0.25 m


def test_synchronous_shift_step_by_hand():
    shifted = cms.shift_step(MEMORY, 1, 0.5)  # each row moves half-way to its nearest other row, then normalised
    nearest_other = MEMORY[[1, 0, 1, 2]]  # 180 deg: 90 deg (cos 0) beats 10 deg (cos -0.985) and 0 deg (cos -1)
    expected = F.normalize(0.5 * MEMORY + 0.5 * nearest_other, dim=1)
    torch.testing.assert_close(shifted, expected)


def test_released_in_place_step_uses_rows_already_shifted_in_the_same_pass():
    x = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])  # 0, ~36.9 and 90 degrees
    synchronous = cms.shift_step(x, 1, 0.5)
    in_place = cms.shift_step(x, 1, 0.5, in_place_blocks=1)
    # block by block: row 0 -> (x0 + x1) / 2; row 1 then sees the updated, unnormalised row 0
    row0 = 0.5 * x[0] + 0.5 * x[1]
    candidates = torch.stack([row0, x[2]])  # row 1's neighbours other than itself
    row1 = 0.5 * x[1] + 0.5 * candidates[(candidates @ x[1]).argmax()]
    row2 = 0.5 * x[2] + 0.5 * row1  # row 1 (updated) is now the most similar to x2 besides x2 itself
    assert (row1 @ x[2]) > (row0 @ x[2])
    torch.testing.assert_close(in_place, F.normalize(torch.stack([row0, row1, row2]), dim=1))
    assert not torch.allclose(in_place, synchronous)


def _release_loss_by_hand(z: np.ndarray, temperature: float) -> float:
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n2, n = len(z), len(z) // 2
    total = 0.0
    for i in range(n2):
        positive = (i + n) % n2
        negatives = [j for j in range(n2) if j not in (i, positive)]
        denominator = sum(math.exp(z[i] @ z[j] / temperature) for j in negatives)
        total += -math.log(math.exp(z[i] @ z[positive] / temperature) / denominator)
    return total / n2


def test_released_loss_matches_its_formula_and_drops_the_positive_from_the_denominator():
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.6, 0.8], [-1.0, 1.0]])  # two images, two views each
    released = cms.released_mean_shift_loss(z, 0.5).item()
    assert released == pytest.approx(_release_loss_by_hand(z.numpy(), 0.5), rel=1e-5)
    # InfoNCE (paper mode) keeps the positive in the denominator, so it is larger by mean log(1 + e^pos / sum neg)
    normalised = F.normalize(z, dim=1)
    logits = normalised @ normalised.T / 0.5
    pos = logits[[0, 1, 2, 3], [2, 3, 0, 1]]
    neg = torch.stack([logits[0, [1, 3]], logits[1, [0, 2]], logits[2, [1, 3]], logits[3, [0, 2]]]).exp().sum(1)
    gap = torch.log1p(pos.exp() / neg).mean().item()
    assert info_nce(z, 0.5).item() == pytest.approx(released + gap, rel=1e-5)


def test_released_loss_detaches_the_norm():
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.6, 0.8], [-1.0, 1.0]], requires_grad=True)
    cms.released_mean_shift_loss(z, 0.5).backward()
    radial_released = (z.grad * z.detach()).sum(1)  # a detached norm lets the loss change with a row's length
    z.grad = None
    info_nce(z, 0.5).backward()
    radial_normalised = (z.grad * z.detach()).sum(1)
    assert radial_normalised.abs().max() < 1e-6
    assert radial_released.abs().max() > 1e-3


def _fake_ward(round_labels):
    calls = iter(round_labels)
    return lambda embeddings, n_clusters, memory=None: next(calls)


def test_inference_keeps_the_best_round_moves_on_ties_and_stops_after_the_patience(monkeypatch):
    y = np.array([0, 0, 1, 1])  # the labelled rows; D_L accuracy per round: 0.5, 0.75, 0.75, 0.5, ...
    rounds = [np.array([0, 1, 0, 1, 0]), np.array([0, 0, 1, 0, 0]), np.array([1, 1, 0, 1, 1]),
              np.array([0, 1, 0, 1, 1]), np.array([0, 0, 1, 1, 0])]
    monkeypatch.setattr(cms, "ward_clusters", _fake_ward(rounds))
    train = F.normalize(torch.randn(5, 3, generator=torch.Generator().manual_seed(1)), dim=1)
    params = cms.CMSParams(n_neighbours=2, mean_shift_rounds=5, mean_shift_patience=2)
    result = cms.iterative_mean_shift(train, train[:2].clone(), y, 2, params)
    assert result.scores == {0: 0.5, 1: 0.75, 2: 0.75, 3: 0.5}  # round 3 is the second without a higher score
    assert result.step == 2 and np.array_equal(result.labels, rounds[2])
    twice = cms.shift_step(cms.shift_step(train, 2, 0.5), 2, 0.5)
    np.testing.assert_allclose(result.train, twice.numpy(), rtol=1e-6)
    test_once = F.normalize(cms.mean_shift(train[:2], cms.knn_mean(train[:2], train, 2, False), 0.5), dim=1)
    assert np.allclose(F.normalize(cms.mean_shift(test_once, cms.knn_mean(
        test_once, cms.shift_step(train, 2, 0.5), 2, False), 0.5), dim=1).numpy(), result.test, rtol=1e-6)


def test_ward_cuts_of_a_cached_tree_equal_fresh_clusterings(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    memory = joblib.Memory(tmp_path, verbose=0)
    for k in (2, 5, 9):
        cached, fresh = cms.ward_clusters(x, k, memory), cms.ward_clusters(x, k)
        pairs = set(zip(cached.tolist(), fresh.tolist()))
        assert len(pairs) == k == len(set(fresh.tolist()))  # the same partition up to the ids


def test_k_search_takes_the_first_best_cut_and_stops_after_the_patience():
    rng = np.random.default_rng(0)
    centres = np.eye(3, dtype=np.float32) * 10  # two known blobs and one new one
    x = np.concatenate([c + rng.normal(scale=0.1, size=(10, 3)).astype(np.float32) for c in centres])
    labelled = np.array([0, 1, 2, 10, 11, 12])
    y = np.array([0, 0, 0, 1, 1, 1])
    k, scores = cms.estimate_k_agglomerative(x, labelled, y, n_known=2, patience=4)
    assert k == 3 and scores[3] == 1.0
    assert sorted(scores) == [3, 4, 5, 6, 7]  # 1.0 cannot be beaten: four more cuts, then stop


def test_cluster_means():
    x = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(cms.cluster_means(x, np.array([1, 1, 0]), 3), [[0, 2], [2, 0], [0, 0]])


def test_params_reject_an_alpha_outside_the_unit_interval():
    with pytest.raises(GFaceError, match="alpha must lie in"):
        cms.CMSParams(alpha=1.5)


def test_epoch_start_runs_before_every_epoch_and_after_a_resume_then_train_mode(tmp_path):
    data = toy_data()
    labelled = np.flatnonzero(data.is_train & (data.labels < 2))[::2]
    unlabelled = np.setdiff1d(np.flatnonzero(data.is_train), labelled)
    views = image_views(data.images, torch.device("cpu"), lambda u, g: torch.cat([u, u]).flatten(1).float() / 255)
    calls, modes = [], []

    def train(crash_in_epoch=None):
        torch.manual_seed(0)
        model = torch.nn.Linear(8 * 8 * 3, 2)

        def step(network, batch: Batch):
            if batch.epoch == crash_in_epoch:
                raise KeyboardInterrupt
            modes.append(network.training)
            return network(batch.views).sum(), {}

        fit(model, step, views, labelled, data.labels[labelled], unlabelled, OptimConfig(3, 16, 0.01, 0.9, 0.0, False),
            tmp_path, 0, torch.device("cpu"), "hook", epoch_start=lambda m, e: (calls.append(e), m.eval()))

    with pytest.raises(KeyboardInterrupt):
        train(crash_in_epoch=2)
    train()
    assert calls == [0, 1, 2, 2] and all(modes)


def test_without_k_the_method_estimates_it_and_records_the_scores(run_dirs, tmp_path, monkeypatch):
    base = PROTOCOLS.get("toy-cnn")
    predictions, split, record = smoke_run("cms", "toy-cnn-k-unknown", tmp_path, monkeypatch)
    info = predictions.info
    assert isinstance(info["k_used"], int) and str(info["k_used"]) in info["k_estimates"]
    assert record["K"] == {"value": 4, "given": False, "estimated": info["k_used"]}
    assert min(int(k) for k in info["k_estimates"]) == len(base.known) + 1
    assert max(predictions.clusters["unlabelled_train"]) < info["k_used"]

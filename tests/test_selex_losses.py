"""SelEx's terms (methods/selex.py) against hand-computed values on small fixed tensors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmark.core.errors import GFaceError
from methods.selex import (SelExParams, centre_radii, distance_supcon, hierarchical_confusion,
                           hierarchical_pseudo_labels, released_confusion, self_expertise_targets,
                           supervised_self_expertise, unsupervised_self_expertise)

# 2 images x 2 views (rows: image 0, image 1, image 0', image 1'); level-0 pseudo-labels 0, 1; level 1 both 0
LEVELS = torch.tensor([[0, 1, 0, 1], [0, 0, 0, 0]])


def test_confusion_weights_each_level_where_the_clusters_differ():
    expected = torch.tensor([[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]], dtype=torch.float32)
    assert torch.equal(hierarchical_confusion(LEVELS), expected)  # level 1 agrees everywhere: weight 1/2 unused
    two_levels_differ = torch.tensor([[0, 1], [0, 1]])
    assert hierarchical_confusion(two_levels_differ)[0, 1].item() == 1.5


def test_targets_keep_one_minus_alpha_on_the_other_view_and_spread_alpha_over_other_cluster_negatives():
    rows = torch.tensor([[0, 1, 2, 0, 1, 2]])  # three images: each row's only same-cluster row is its other view
    targets = self_expertise_targets(hierarchical_confusion(rows), alpha=0.2)
    # row 0: other view = row 3 (0.8); negatives rows 1, 2, 4, 5 all in other clusters: 0.05 each
    assert targets[0].tolist() == pytest.approx([0.0, 0.05, 0.05, 0.8, 0.05, 0.05])
    assert targets.sum(1).tolist() == pytest.approx([1.0] * 6)


def test_same_cluster_negatives_get_no_target_mass_and_rows_without_weighted_negatives_keep_the_positive():
    targets = self_expertise_targets(hierarchical_confusion(torch.tensor([[0, 0, 0, 0]])), alpha=0.3)
    assert torch.equal(targets, torch.eye(4).roll(2, dims=1))  # every negative shares the cluster: all on the view
    targets = self_expertise_targets(hierarchical_confusion(LEVELS), alpha=0.3)
    assert targets[0].tolist() == pytest.approx([0.0, 0.15, 0.7, 0.15])


def test_released_targets_add_alpha_times_the_raw_row_to_the_positive():
    confusion = torch.tensor([[0.0, 0.2, 0.4, 0.6], [0.1, 0.0, 0.3, 0.5], [0.2, 0.2, 0.0, 0.2],
                              [0.5, 0.5, 0.5, 0.0]])
    targets = self_expertise_targets(confusion, alpha=0.5, released_code=True)
    assert targets[0].tolist() == pytest.approx([0.0, 0.1, 0.2 + 0.5, 0.3])
    assert targets[3].tolist() == pytest.approx([0.25, 0.25 + 0.5, 0.25, 0.0])


def test_unsupervised_self_expertise_is_the_soft_cross_entropy_over_negative_distances():
    z = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [3.0, 0.0]])
    targets = torch.tensor([[0.0, 0.25, 0.75, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0],
                            [0.0, 1.0, 0.0, 0.0]])
    value = unsupervised_self_expertise(z, targets, temperature=1.0)
    d = torch.cdist(z, z).numpy()
    expected = 0.0
    for a in range(4):
        others = [j for j in range(4) if j != a]
        log_norm = math.log(sum(math.exp(-d[a, j]) for j in others))
        expected += -sum(targets[a, j].item() * (-d[a, j] - log_norm) for j in others)
    assert value.item() == pytest.approx(expected / 4, rel=1e-5)


def test_distance_supcon_by_hand():
    z = torch.tensor([[0.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    labels = torch.tensor([0, 0, 1])
    tau = 0.5
    d = torch.cdist(z, z).numpy()
    expected = 0.0
    for a, pos in ((0, 1), (1, 0)):  # row 2 has no positive: contributes 0 to the mean
        others = [j for j in range(3) if j != a]
        expected += -(-d[a, pos] / tau - math.log(sum(math.exp(-d[a, j] / tau) for j in others)))
    # the temperature ratio τ / base τ scales the loss
    value = distance_supcon(z, labels, temperature=tau, base_temperature=tau)
    assert value.item() == pytest.approx(expected / 3, rel=1e-5)


def test_supervised_self_expertise_adds_truncated_levels_with_halving_weights():
    torch.manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    labels = torch.tensor([0, -1, 0, -1])
    labelled = torch.tensor([True, False, True, False])
    expected = (distance_supcon(z[labelled], labels[labelled]) + distance_supcon(z[:, :4], LEVELS[0]) / 2
                + distance_supcon(z[:, :2], LEVELS[1]) / 4)
    value = supervised_self_expertise(z, labels, labelled, LEVELS, 0.07)
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)


def test_centre_radii_are_half_the_nearest_other_centre_distance():
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 1.0]])
    assert centre_radii(centres).tolist() == pytest.approx([0.5, 2.0, 0.5])  # centre 1: 4 to centre 0


def test_released_confusion_thresholds_raw_distances_at_the_column_cluster_diameter_and_scales():
    raw = torch.tensor([[0.0], [1.0], [3.0]])
    levels = torch.tensor([[0, 1, 1]])
    radii = [torch.tensor([0.25, 1.0])]  # cluster 0: diameter 0.5; cluster 1: diameter 2
    # [|f_a - f_j| > 2 r(c(j))]: column 0 (0.5): rows 1, 2; columns 1, 2 (2): pair (0, 2) only
    raw_matrix = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    scaled = raw_matrix / (1.0 + 1e-7)
    expected = scaled / scaled.sum(dim=1)  # column j divided by the sum of row j, as the release broadcasts
    assert torch.allclose(released_confusion(raw, levels, radii), expected)


def test_pseudo_label_levels_halve_the_known_and_new_cluster_counts():
    rng = np.random.RandomState(0)
    centres = np.eye(8)[:6] * 5
    y = np.repeat(np.arange(6), 10)
    feats = centres[y] + rng.normal(scale=0.1, size=(60, 8))
    labelled = np.isin(y, [0, 1, 2, 3]) & (np.arange(60) % 2 == 0)
    order = np.concatenate([np.flatnonzero(labelled), np.flatnonzero(~labelled)])
    pseudo = hierarchical_pseudo_labels(feats[order], int(labelled.sum()), y[labelled], n_known=4, k=6, iters=10,
                                        seed=0)
    assert [len(c) for c in pseudo.centres] == [6, 2 + 1, 1 + 1]  # (4, 2) -> (2, 1) -> (1, 1)
    assert np.array_equal(pseudo.labels[0][:int(labelled.sum())], y[labelled])
    for level in pseudo.labels[1:]:  # each coarser level merges whole level-0 clusters of the known classes
        for cluster in range(4):
            assert len(set(level[pseudo.labels[0] == cluster])) == 1


def test_smoothing_outside_the_unit_interval_is_one_clear_error():
    with pytest.raises(GFaceError, match="unsupervised_smoothing"):
        SelExParams(unsupervised_smoothing=1.5)

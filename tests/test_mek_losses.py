"""MEK: class weights recomputed from the labelled histogram, re-balanced smooth labels (methods/README.md,
"Mine-Extra-Knowledge")."""
import math

import numpy as np
import pytest
import torch

from benchmark.core.errors import GFaceError
from benchmark.training.rebalance import (class_weights, labelled_class_weights, rebalanced_smooth_loss,
                                          rebalanced_smooth_targets)

RAFDB_TRAIN = {"surprise": 1290, "fear": 281, "disgust": 717, "happiness": 4772, "sadness": 1982, "anger": 705,
               "neutral": 2524}
RELEASED_WEIGHTS = [0.9512, 4.3669, 1.7114, 0.2571, 0.6191, 1.7406, 0.4862]  # hard-coded in the MEK release


def test_weights_from_the_raf_db_histogram_reproduce_the_released_constants():
    labels = np.repeat(np.arange(7), list(RAFDB_TRAIN.values()))
    weights = labelled_class_weights(labels, 7, tuple(RAFDB_TRAIN))
    assert weights.tolist() == pytest.approx(RELEASED_WEIGHTS, abs=5e-5)


def test_weights_follow_the_histogram_they_are_given():
    assert class_weights(torch.tensor([10, 30, 60])).tolist() == pytest.approx([1.0, 1 / 3, 1 / 6])
    with pytest.raises(GFaceError, match=r"none for \['b'\]"):
        labelled_class_weights(np.array([0, 0, 2]), 3, ("a", "b", "c"))


def test_smooth_targets_put_epsilon_on_the_other_classes_by_weight():
    targets = rebalanced_smooth_targets(torch.tensor([0, 2]), torch.tensor([1.0, 2.0, 3.0]), 0.3)
    torch.testing.assert_close(targets, torch.tensor([[0.7, 0.3 * 2 / 5, 0.3 * 3 / 5],
                                                      [0.3 * 1 / 3, 0.3 * 2 / 3, 0.7]]))


def test_smooth_loss_is_the_cross_entropy_with_those_targets():
    logits = torch.tensor([[1.0, 0.0, 0.0]])
    loss = rebalanced_smooth_loss(logits, torch.tensor([0]), torch.tensor([1.0, 2.0, 3.0]), 0.3)
    # -sum_k t_k log softmax_k = log(e + 2) - 0.7 * 1 (t sums to 1; only class 0 has logit 1)
    assert loss.item() == pytest.approx(math.log(math.e + 2) - 0.7)
    assert rebalanced_smooth_loss(logits[:0], torch.tensor([], dtype=torch.long), torch.ones(3), 0.3).item() == 0

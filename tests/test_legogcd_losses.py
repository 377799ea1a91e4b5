"""LegoGCD's terms (methods/legogcd.py) against their formulas on small fixed tensors."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from benchmark.training.trainer import Batch
from methods.legogcd import (LegoGCD, LegoGCDParams, dual_view_kl, local_entropy_regulariser, potential_known_mask,
                             update_prior)
from methods.simgcd import SimGCDNetwork


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


LOGITS = torch.tensor([[0.9, 0.1, -0.2], [0.0, 0.5, 0.3],    # view 1 of images 0, 1
                       [0.7, 0.2, 0.0], [0.1, 0.1, 0.6]])    # view 2 of images 0, 1


def test_dkl_is_the_mean_kl_between_the_two_views():
    p = softmax(LOGITS[:2].numpy() / 0.1)
    q = softmax(LOGITS[2:].numpy() / 0.1)
    expected = np.mean((p * np.log(p / q)).sum(1))
    assert dual_view_kl(LOGITS, 0.1).item() == pytest.approx(expected, rel=1e-5)


def test_dkl_of_identical_views_is_zero_and_view_two_is_the_detached_target():
    same = torch.cat([LOGITS[:2], LOGITS[:2]])
    assert dual_view_kl(same, 0.1).item() == pytest.approx(0.0, abs=1e-7)
    logits = LOGITS.clone().requires_grad_()
    dual_view_kl(logits, 0.1).backward()
    assert logits.grad[:2].abs().sum() > 0 and logits.grad[2:].abs().sum() == 0


def test_dkl_released_code_takes_log_softmax_of_probabilities_and_trains_both_views():
    p = softmax(LOGITS[:2].numpy() / 0.1)
    q = softmax(LOGITS[2:].numpy() / 0.1)
    log_sm = lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))  # noqa: E731
    expected = np.mean((p * (log_sm(p) - log_sm(q))).sum(1))
    logits = LOGITS.clone().requires_grad_()
    value = dual_view_kl(logits, 0.1, released_code=True)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    value.backward()
    assert logits.grad[2:].abs().sum() > 0


def test_potential_known_rows_are_unlabelled_confident_and_predicted_known():
    logits = torch.tensor([[1.0, 0.0, 0.0],    # unlabelled, confident, known class 0 -> selected
                           [1.0, 0.0, 0.0],    # labelled -> not selected
                           [0.0, 0.0, 1.0],    # confident but new class 2 -> not selected
                           [0.30, 0.28, 0.0]])  # known but p_max = 0.53 < 0.85 -> not selected
    labelled = torch.tensor([False, True, False, False])
    mask = potential_known_mask(logits, labelled, n_known=2, temperature=0.1, threshold=0.85)
    assert mask.tolist() == [True, False, False, False]


def test_ler_with_a_uniform_prior_is_the_entropy_of_the_selected_rows_over_all_rows():
    tau = 0.05
    logits = torch.tensor([[0.0, tau * math.log(3.0)], [0.3, 0.1], [0.2, 0.2]])  # row 0: p = (1/4, 3/4)
    selected = torch.tensor([True, False, False])
    value = local_entropy_regulariser(logits, selected, torch.full((2,), 0.5), tau, margin=0.4)
    entropy = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert value.item() == pytest.approx(entropy / 3, rel=1e-5)


def test_ler_shifts_the_prediction_by_margin_times_log_prior():
    tau, margin = 0.05, 0.4
    logits = torch.tensor([[0.2, 0.1, -0.1], [0.0, 0.3, 0.1]])
    prior = torch.tensor([0.5, 0.3, 0.2])
    target = softmax(logits.numpy() / tau)
    shifted = logits.numpy() / tau + margin * np.log(prior.numpy())
    log_pred = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    expected = (-(target * log_pred).sum(1)).mean()
    value = local_entropy_regulariser(logits, torch.tensor([True, True]), prior, tau, margin)
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_prior_is_an_exponential_moving_average_of_the_mean_prediction():
    prior = torch.tensor([0.5, 0.5])
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])  # predictions (1/4, 3/4) and (1/2, 1/2)
    update_prior(prior, logits, temperature=1.0, momentum=0.9)
    assert prior.tolist() == pytest.approx([0.9 * 0.5 + 0.1 * 0.375, 0.9 * 0.5 + 0.1 * 0.625])


def tiny_network_and_batch(n_classes: int = 4) -> tuple[SimGCDNetwork, Batch]:
    """A SimGCD network on a linear 'backbone' and a batch of 6 images (3 labelled), both views."""
    torch.manual_seed(0)
    network = SimGCDNetwork(torch.nn.Linear(8, 8), 8, n_classes, 16, 8)
    labelled = torch.tensor([True, True, False, False, True, False])
    return network, Batch(torch.randn(12, 8), torch.tensor([0, 1, -1, -1, 0, -1]), labelled, 0, 0, 10)


def test_step_is_simgcd_plus_weighted_dkl_and_ler_with_the_prior_before_its_update():
    params = LegoGCDParams(confidence_threshold=0.3, ler_weight=2.0, prior_momentum=0.5)
    network, batch = tiny_network_and_batch()
    batch = dataclasses.replace(batch, total_steps=78_000)  # the release's schedule: the momentum is used as given
    network.register_buffer("class_prior", torch.tensor([0.4, 0.3, 0.2, 0.1]))
    network.n_known = 2
    method = LegoGCD(params)
    logits, simgcd_loss, _ = method._simgcd_loss(network, batch)
    selected = potential_known_mask(logits, batch.is_labelled.repeat(2), 2, 0.1, 0.3)
    assert selected.any()
    expected = (simgcd_loss + 0.65 * dual_view_kl(logits, 0.1)
                + 2.0 * local_entropy_regulariser(logits, selected, network.class_prior.clone(), 0.05, 0.4))
    loss, logs = method._step(network, batch)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert logs["ler_rows"] == selected.sum().item()
    mean_prediction = torch.softmax(logits.detach(), dim=1).mean(0)
    assert network.class_prior.tolist() == pytest.approx(
        (0.5 * torch.tensor([0.4, 0.3, 0.2, 0.1]) + 0.5 * mean_prediction).tolist(), rel=1e-5)


def test_the_prior_momentum_keeps_its_horizon_fraction_of_the_runs_steps():
    """0.999 over the release's 78,000 steps is a horizon of 1/78 of training; a run of 780 steps uses 0.9."""
    params = LegoGCDParams(confidence_threshold=0.3, prior_momentum=0.999)
    network, batch = tiny_network_and_batch()
    batch = dataclasses.replace(batch, total_steps=780)
    network.register_buffer("class_prior", torch.tensor([0.4, 0.3, 0.2, 0.1]))
    network.n_known = 2
    method = LegoGCD(params)
    logits = method._simgcd_loss(network, batch)[0]
    method._step(network, batch)
    mean_prediction = torch.softmax(logits.detach(), dim=1).mean(0)
    assert network.class_prior.tolist() == pytest.approx(
        (0.9 * torch.tensor([0.4, 0.3, 0.2, 0.1]) + 0.1 * mean_prediction).tolist(), rel=1e-5)

"""μGCD's terms (methods/mugcd.py) against their formulas on small fixed tensors."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.budget import time_constant_at
import torch

from benchmark.core.errors import GFaceError
from methods.mugcd import MeanTeacher, MuGCD, MuGCDParams, StudentParts, ema_update, mean_teacher_distillation
from methods.simgcd import SimGCD, SimGCDParams
from tests.test_legogcd_losses import tiny_network_and_batch


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


STUDENT = torch.tensor([[0.9, 0.1, -0.2], [0.0, 0.5, 0.3],    # view 1 of images 0, 1
                        [0.7, 0.2, 0.0], [0.1, 0.1, 0.6]])    # view 2 of images 0, 1
TEACHER = torch.tensor([[0.8, 0.3, -0.1], [0.2, 0.4, 0.1],
                        [0.5, 0.4, 0.0], [0.0, 0.3, 0.5]])


def test_distillation_is_the_cross_view_cross_entropy_to_the_sharpened_teacher():
    ts, tt = 0.1, 0.05
    target = softmax(TEACHER.numpy() / tt)
    log_student = np.log(softmax(STUDENT.numpy() / ts))
    # teacher view 1 teaches student view 2 and the reverse; mean over images, then over the two directions
    expected = 0.5 * (-(target[:2] * log_student[2:]).sum(1).mean() - (target[2:] * log_student[:2]).sum(1).mean())
    assert mean_teacher_distillation(STUDENT, TEACHER, ts, tt).item() == pytest.approx(expected, rel=1e-5)


def test_distillation_sends_no_gradient_to_the_teacher():
    student, teacher = STUDENT.clone().requires_grad_(), TEACHER.clone().requires_grad_()
    mean_teacher_distillation(student, teacher, 0.1, 0.05).backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None


def test_with_the_student_as_its_own_teacher_it_is_simgcd_distillation():
    from benchmark.training.losses import cross_view_distillation
    assert mean_teacher_distillation(STUDENT, STUDENT, 0.1, 0.04).item() == pytest.approx(
        cross_view_distillation(STUDENT, 0.1, 0.04).item(), rel=1e-6)


def test_ema_update_moves_trainable_parameters_and_copies_buffers():
    student = torch.nn.BatchNorm1d(2)
    teacher = torch.nn.BatchNorm1d(2)
    with torch.no_grad():
        student.weight.copy_(torch.tensor([1.0, 3.0]))
        teacher.weight.copy_(torch.tensor([0.0, 1.0]))
        student.running_mean.copy_(torch.tensor([5.0, 6.0]))
    ema_update(teacher, student, momentum=0.9)
    assert teacher.weight.tolist() == pytest.approx([0.9 * 0.0 + 0.1 * 1.0, 0.9 * 1.0 + 0.1 * 3.0])
    assert teacher.running_mean.tolist() == [5.0, 6.0]


def test_ema_update_leaves_frozen_parameters_alone():
    student, teacher = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    student.bias.requires_grad_(False)
    with torch.no_grad():
        student.weight.fill_(1.0), teacher.weight.fill_(0.0), student.bias.fill_(4.0), teacher.bias.fill_(2.0)
    ema_update(teacher, student, momentum=0.5)
    assert teacher.weight.tolist() == [[0.5, 0.5]] and teacher.bias.item() == 2.0


def test_teacher_starts_as_a_frozen_copy_and_follows_the_student_by_ema():
    network, batch = tiny_network_and_batch()
    teacher = MeanTeacher(network.backbone, network.prototypes)
    assert not any(p.requires_grad for p in teacher.parameters())
    _, student_logits = network(batch.views)
    assert torch.equal(teacher(batch.views), student_logits)
    before = network.prototypes.weight.detach().clone()
    with torch.no_grad():
        network.prototypes.weight.add_(1.0)
    ema_update(teacher, StudentParts(network), momentum=0.75)
    assert torch.allclose(teacher.prototypes.weight, 0.75 * before + 0.25 * (before + 1.0))


def test_step_is_simgcd_with_the_teacher_targets_after_the_pending_ema_update():
    params = MuGCDParams(teacher_momentum=0.5)
    network, batch = tiny_network_and_batch()
    network.teacher = MeanTeacher(network.backbone, network.prototypes)
    with torch.no_grad():  # the student has moved since the teacher's last update
        network.prototypes.weight.mul_(-1.0)
    # ω = 0.5 at the paper's 9,200 steps (a horizon of 2 steps, 1/4,600 of training) kept as that fraction of the
    # batch's run: 1 - 1/(S/4,600), clipped at 0
    momentum = max(0.0, 1.0 - 4600 / batch.total_steps)
    assert time_constant_at(MuGCD, "teacher_momentum", 0.5, batch.total_steps) == pytest.approx(momentum)
    expected_teacher = momentum * network.teacher.prototypes.weight + (1 - momentum) * network.prototypes.weight
    loss, logs = MuGCD(params)._step(network, batch)
    assert torch.allclose(network.teacher.prototypes.weight, expected_teacher)
    _, logits = network(batch.views)
    teacher_logits = network.teacher(batch.views)
    distill = mean_teacher_distillation(logits, teacher_logits, 0.1, 0.07)  # epoch 0: τ_t = 0.07
    assert logs["distill"] == pytest.approx(distill.item(), rel=1e-5)
    # every other term is SimGCD's: with the student's own targets the loss differs by 0.65 (distill - own)
    simgcd_loss, simgcd_logs = SimGCD(SimGCDParams())._step(network, batch)
    assert loss.item() - simgcd_loss.item() == pytest.approx(0.65 * (distill.item() - simgcd_logs["distill"]),
                                                             rel=1e-4, abs=1e-6)


def test_momentum_outside_the_unit_interval_is_one_clear_error():
    with pytest.raises(GFaceError, match="teacher_momentum"):
        MuGCDParams(teacher_momentum=1.5)

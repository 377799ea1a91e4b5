"""μGCD (Vaze, Vedaldi, Zisserman, NeurIPS 2023): SimGCD with a mean teacher (methods/README.md, "μGCD").

A teacher network (backbone and cosine prototypes) whose weights follow the student's as an exponential moving
average, θ_t <- ω θ_t + (1-ω) θ_s after every optimiser step (ω per step), gives the self-distillation targets:
each view's sharpened teacher prediction softmax(l_t / τ_t) teaches the student's prediction on the other view.
Every other term, the network, the optimiser and the schedules are SimGCD's. Predictions: argmax of the teacher's
prototypes on the teacher's features (``predict_with_teacher``), last epoch; knownness: the teacher's probability
mass on the known classes.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.budget import MOMENTUM, TimeConstant, time_constant_at, time_constant_record
from benchmark.core.errors import GFaceError
from benchmark.core.registry import METHODS
from benchmark.method import Predictions
from benchmark.search_space import tuned
from benchmark.task import GCDTask
from benchmark.training.backbone_training import TrainingInput
from benchmark.training.losses import cross_view_cross_entropy
from benchmark.training.rebalance_addon import check_inputs
from benchmark.training.trainer import Batch
from benchmark.training.view_bank import Tail, check_view_bank
from methods.simgcd import SimGCD, SimGCDNetwork, SimGCDParams, prototype_predictions


@dataclass
class MuGCDParams(SimGCDParams):
    teacher_momentum: float = 0.999  # ω per step at the paper's schedule (1,000 of 9,200 steps); time_constants
    predict_with_teacher: bool = True  # mean-teacher convention: the EMA network predicts; False: the student

    def __post_init__(self) -> None:
        check_view_bank(self.view_bank, "mugcd")
        check_inputs(self.rebalance, self.view_bank, "mugcd")
        if not 0.0 <= self.teacher_momentum <= 1.0:
            raise GFaceError(f"mugcd.teacher_momentum={self.teacher_momentum}: an EMA momentum lies in [0, 1] "
                             f"(0: the teacher is the student; 1: it never moves), e.g. 0.999")


def full_network(backbone: nn.Module) -> nn.Module:
    """The whole backbone network behind what the student runs (itself, or the network a ``Tail`` holds)."""
    return backbone.network if isinstance(backbone, Tail) else backbone


class MeanTeacher(nn.Module):
    """The teacher: a frozen copy of the student's backbone network and prototypes, moved only by ``ema_update``.

    ``network`` is its whole backbone network (the features it predicts from after training); on view-bank trunk
    outputs it runs the backbone's tail, as the student does."""

    def __init__(self, backbone: nn.Module, prototypes: nn.Module):
        super().__init__()
        self.network = copy.deepcopy(full_network(backbone))
        self.prototypes = copy.deepcopy(prototypes)
        self.requires_grad_(False)
        self._tail = backbone._tail if isinstance(backbone, Tail) else None

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        feats = self.network(views) if self._tail is None else self._tail(self.network, views)
        return self.prototypes(feats)


class StudentParts(nn.Module):
    """The student's modules the teacher averages, registered in the teacher's order."""

    def __init__(self, network: SimGCDNetwork):
        super().__init__()
        self.network, self.prototypes = full_network(network.backbone), network.prototypes


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """θ_t <- momentum θ_t + (1 - momentum) θ_s for every trainable student parameter (frozen ones are equal);
    buffers (BatchNorm statistics) are copied from the student."""
    for p_t, p_s in zip(teacher.parameters(), student.parameters(), strict=True):
        if p_s.requires_grad:
            p_t.mul_(momentum).add_(p_s.detach().to(p_t.dtype), alpha=1 - momentum)
    for b_t, b_s in zip(teacher.buffers(), student.buffers(), strict=True):
        b_t.copy_(b_s)


def mean_teacher_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                              student_temperature: float, teacher_temperature_value: float) -> torch.Tensor:
    """Each view's teacher prediction softmax(l_t / τ_t) (no gradient) teaches the student's other view."""
    targets = F.softmax(teacher_logits.detach().float() / teacher_temperature_value, dim=1)
    return cross_view_cross_entropy(student_logits, student_temperature, targets)


@METHODS.register("mugcd")
class MuGCD(SimGCD):
    Params = MuGCDParams
    search_space = tuned(  # the one rule: benchmark/search_space.py
        MuGCDParams, weights=("sup_weight", "memax_weight"), temperatures=("student_temperature",))
    name = "mugcd"
    budget_params = ("teacher_warmup_epochs",)
    # ω as SimGCD's CUB schedule has it (the SSB sets the paper reports): 200 epochs x 46 steps (5,994 // 128)
    time_constants = (TimeConstant("teacher_momentum", MOMENTUM, 200 * 46),)
    profiles = {"cpu": {"budget": 16, "proj_hidden_dim": 512, "view_bank": 8},  # as simgcd
                "smoke": {"epochs": 1, "batch_size": 16, "teacher_warmup_epochs": 1, "proj_hidden_dim": 32}}
    version = 1
    summary = "μGCD: SimGCD whose self-distillation targets come from a mean (EMA) teacher"

    def run(self, task: GCDTask) -> Predictions:
        p = self.params
        inputs, network, stats = self._train(task)
        steps = p.epochs * stats.iterations_per_epoch
        momentum = time_constant_at(type(self), "teacher_momentum", p.teacher_momentum, steps)
        ema_update(network.teacher, StudentParts(network), momentum)  # the last step's update
        teacher = network.teacher
        predictor = dataclasses.replace(inputs, network=teacher.network) if p.predict_with_teacher else inputs
        prototypes = teacher.prototypes if p.predict_with_teacher else network.prototypes
        clusters, knownness = prototype_predictions(task, predictor, prototypes, p.student_temperature)
        return Predictions(clusters, knownness, "known_class_probability_mass",
                           {"train": vars(stats), **inputs.record,
                            "predicted_by": "teacher" if p.predict_with_teacher else "student",
                            "time_constants": time_constant_record(type(self), p, steps)})

    def _network(self, task: GCDTask, inputs: TrainingInput, k: int) -> SimGCDNetwork:
        network = super()._network(task, inputs, k)
        network.teacher = MeanTeacher(network.backbone, network.prototypes)  # checkpointed, never optimised
        return network

    def _step(self, network: SimGCDNetwork, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """SimGCD's step. The EMA update that follows optimiser step s runs at the start of step s+1 (and once
        after training), so a run resumed from an epoch checkpoint repeats it exactly."""
        momentum = time_constant_at(type(self), "teacher_momentum", self.params.teacher_momentum, batch.total_steps)
        ema_update(network.teacher, StudentParts(network), momentum)
        return super()._step(network, batch)

    def _distillation(self, network: SimGCDNetwork, batch: Batch, logits: torch.Tensor, student_temperature: float,
                      teacher_temperature_value: float) -> torch.Tensor:
        with torch.no_grad():
            teacher_logits = network.teacher(batch.views)
        return mean_teacher_distillation(logits, teacher_logits, student_temperature, teacher_temperature_value)

"""Training budgets: one number per learner, its epochs, with every schedule counted in epochs or steps scaled to it.

A learner is a method whose ``Params`` has ``epochs``. Its paper schedules (a teacher warm-up of 30 of 200 epochs,
a gradient-reversal ramp over 1,000 steps, ...) are listed in ``Method.budget_params``; at a budget of E epochs
each becomes ``max(1, round(paper value x E / paper epochs))`` (0 stays 0), so a short run keeps the paper's
proportions. A positive ``view_bank`` holds ``VIEWS_PER_EPOCH x E`` stored views (benchmark/speed/README.md,
section 4). The embedded budget of each learner is chosen from its learning curve by one rule
(``benchmark/tools/learning_curves.py``; leaderboard/LEARNING_CURVES.md) and written in its ``cpu`` profile as
``"budget": E``; ``--budget E`` sets it for every learner of a sweep.

Per-step time constants (``Method.time_constants``: an EMA momentum m, a ramp counted in steps) are resolved at run
time, when the run's number of optimiser steps S (epochs x iterations per epoch, from the task size and the batch
size) is known. The declared value is the one of the paper's schedule of S_paper steps (``TimeConstant.paper_steps``:
paper epochs x the release's steps per epoch); the run keeps its horizon as a fraction of training,
f = horizon / S_paper, with the horizon 1/(1-m) steps for a momentum and the ramp's length for a ramp:
m' = 1 - 1/(f S), at least 0 (a horizon of at least one step); a ramp becomes max(1, round(f S)) steps. 0 stays 0
and a momentum of 1 stays 1. The resolved values go into the run record (``time_constant_record``).
"""
from __future__ import annotations

import dataclasses
import math

from benchmark.core.errors import GFaceError

BUDGET_KEY = "budget"  # a profile entry: the learner's budget in epochs
VIEWS_PER_EPOCH = 2  # a view bank of 2 x epochs views: the measured rule of benchmark/speed/README.md, section 4
MOMENTUM, RAMP = "momentum", "ramp"  # the kinds of per-step time constant


@dataclasses.dataclass(frozen=True)
class TimeConstant:
    """A ``Params`` field that is a per-step time constant: an EMA momentum (``MOMENTUM``) or a ramp length in
    optimiser steps (``RAMP``), with the steps of the paper's schedule (paper epochs x release steps per epoch)."""

    name: str
    kind: str
    paper_steps: int


def paper_value(method, name: str):
    """The ``Params`` default of ``name`` (the paper's value)."""
    for f in dataclasses.fields(method.Params):
        if f.name == name:
            return f.default
    raise GFaceError(f"{method.__name__}: budget parameter {name!r} is not one of its parameters")


def is_learner(method) -> bool:
    return any(f.name == "epochs" for f in dataclasses.fields(method.Params))


def scaled(paper: int, epochs: int, paper_epochs: int) -> int:
    """``paper`` in proportion to ``epochs / paper_epochs``, rounded half up, at least 1 unless it was 0."""
    return 0 if paper == 0 else max(1, math.floor(paper * epochs / paper_epochs + 0.5))


def budget_values(method_name: str, method, epochs: int, view_bank: int = 0) -> dict:
    """The parameter values of a learner trained for ``epochs`` epochs (empty for a method that does not learn).

    ``view_bank``: the bank size before the budget applies; a positive one is resized to the budget."""
    if not is_learner(method):
        return {}
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise GFaceError(f"{method_name}: budget {epochs!r} must be a whole number of epochs, at least 1")
    paper_epochs = paper_value(method, "epochs")
    values = {"epochs": epochs}
    values.update({name: scaled(paper_value(method, name), epochs, paper_epochs) for name in method.budget_params})
    if view_bank > 0:
        values["view_bank"] = VIEWS_PER_EPOCH * epochs
    return values


def horizon_fraction(constant: TimeConstant, value: float) -> float:
    """The constant's horizon as a fraction of the paper's training: (1 / (1 - m)) / S_paper, or ramp / S_paper."""
    if constant.kind not in (MOMENTUM, RAMP):
        raise GFaceError(f"time constant {constant.name}: kind {constant.kind!r} is neither {MOMENTUM!r} nor {RAMP!r}")
    horizon = 1.0 / (1.0 - value) if constant.kind == MOMENTUM else float(value)
    return horizon / constant.paper_steps


def at_steps(constant: TimeConstant, value: float, steps: int) -> float:
    """``value`` (the paper schedule's) for a training of ``steps`` optimiser steps, keeping its horizon fraction."""
    if value == 0 or (constant.kind == MOMENTUM and value >= 1):
        return value  # no averaging / a frozen average / no ramp: nothing to scale
    horizon = horizon_fraction(constant, value) * steps
    if constant.kind == MOMENTUM:
        return max(0.0, 1.0 - 1.0 / horizon)
    return max(1, math.floor(horizon + 0.5))


def time_constant_at(method, name: str, value: float, steps: int) -> float:
    """``at_steps`` for the time constant ``name`` that ``method`` declares."""
    constant = next((c for c in method.time_constants if c.name == name), None)
    if constant is None:
        raise GFaceError(f"{method.__name__}: {name!r} is not one of its declared time constants")
    return at_steps(constant, value, steps)


def time_constant_record(method, params, steps: int) -> dict:
    """For the run record: per declared time constant, the paper schedule's value, S_paper, the run's steps S and
    the value used."""
    return {c.name: {"paper_schedule_value": getattr(params, c.name), "paper_steps": c.paper_steps, "steps": steps,
                     "used": at_steps(c, getattr(params, c.name), steps)} for c in method.time_constants}

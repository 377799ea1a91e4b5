"""Training budgets: one number per learner, its epochs, with every schedule counted in epochs or steps scaled to it.

A learner is a method whose ``Params`` has ``epochs``. Its paper schedules (a teacher warm-up of 30 of 200 epochs,
a gradient-reversal ramp over 1,000 steps, ...) are listed in ``Method.budget_params``; at a budget of E epochs
each becomes ``max(1, round(paper value x E / paper epochs))`` (0 stays 0), so a short run keeps the paper's
proportions. A positive ``view_bank`` holds ``VIEWS_PER_EPOCH x E`` stored views (benchmark/speed/README.md,
section 4). The embedded budget of each learner is chosen from its learning curve by one rule
(``benchmark/tools/learning_curves.py``; leaderboard/LEARNING_CURVES.md) and written in its ``cpu`` profile as
``"budget": E``; ``--budget E`` sets it for every learner of a sweep.
"""
from __future__ import annotations

import dataclasses
import math

from benchmark.core.errors import GFaceError

BUDGET_KEY = "budget"  # a profile entry: the learner's budget in epochs
VIEWS_PER_EPOCH = 2  # a view bank of 2 x epochs views: the measured rule of benchmark/speed/README.md, section 4


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

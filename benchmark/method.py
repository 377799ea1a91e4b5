"""The method contract (benchopt-style plugin): a ``Params`` dataclass, named profiles, and ``run(task)``.

A method sees a ``GCDTask`` (images, labelled labels, unlabelled and test indices; never their labels) and returns
``Predictions``: cluster ids per evaluation set and optionally a knownness score. Methods never score themselves.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from benchmark.budget import BUDGET_KEY, TimeConstant, budget_values
from benchmark.core.errors import GFaceError
from benchmark.task import GCDTask


@dataclass
class Predictions:
    """Per evaluation set (``"unlabelled_train"``, ``"test"``): cluster ids in the order of ``task.indices``.

    ``knownness`` (higher = more likely a known class) comes with the name of the adapter that produced it.
    ``info`` holds JSON-able facts worth keeping in the record (inertia, iterations, K used).
    ``closed_set``: the ids of known classes are their class indices (a closed-set classifier), so the scorer also
    reports closed-set accuracy without matching (benchmark/README.md, "Evaluation").
    ``reference_knownness`` (with ``reference_adapter``): a second score from the same run that the method's own
    score should beat, e.g. the maximum softmax probability of the closed-set model it builds on; scored as
    ``auroc_reference`` and ``fpr_at_tpr95_reference``.
    ``reference_clusters`` (``closed_set`` only): the class indices a second closed-set model of the same run predicts,
    e.g. the base network a method adapts; scored as ``closed_accuracy_reference`` and ``closed_mca_reference``.
    ``k_estimated``: the number of classes the method estimated itself (``None``: it used the protocol's K or
    needs none); recorded beside the true K for the leaderboard's "K unknown" table.
    """

    clusters: dict[str, np.ndarray]
    knownness: dict[str, np.ndarray] = field(default_factory=dict)
    score_adapter: str | None = None
    info: dict = field(default_factory=dict)
    closed_set: bool = False
    reference_knownness: dict[str, np.ndarray] = field(default_factory=dict)
    reference_adapter: str | None = None
    reference_clusters: dict[str, np.ndarray] = field(default_factory=dict)
    k_estimated: int | None = None


@dataclass(frozen=True)
class TaskShape:
    """The sizes of a run's task, known before it starts: what ``Method.check`` may test."""

    protocol_id: str
    n_labelled: int
    n_unlabelled: int
    n_test: int
    n_known: int
    n_classes: int | None  # K when the protocol gives it
    backbone: str = ""
    backbone_splits: bool = True  # the backbone declares trunk and tail (a view bank needs them)


def require_steps(shape: TaskShape, batch_size: int, method_name: str) -> None:
    """For ``Method.check``: training over D_L and D_U drops the last incomplete batch, so it
    needs at least one full batch per epoch."""
    n_rows = shape.n_labelled + shape.n_unlabelled
    if batch_size > n_rows:
        raise GFaceError(f"{method_name}: batch_size {batch_size} exceeds the {n_rows} training images of protocol "
                         f"{shape.protocol_id!r}, so an epoch would make no optimiser step; lower it, e.g. "
                         f"--set {method_name}.batch_size={max(1, n_rows // 4)}")


def at_least(default, low):
    """A ``Params`` field whose value must be ``>= low`` (counts and sizes: ``at_least(128, 1)``)."""
    return field(default=default, metadata={"min": low})


class Method(ABC):
    """Subclass, set ``Params`` (paper defaults) and optionally ``profiles``, implement ``run``, register it.

    ``version``: bump it whenever a change to the method's code moves its numbers; it is part of every run's
    identity, so records of the older code stop counting as done.
    """

    Params: ClassVar[type]
    version: ClassVar[int] = 1
    profiles: ClassVar[dict[str, dict]] = {}
    summary: ClassVar[str] = ""
    ablation_terms: ClassVar[dict[str, str]] = {}  # term label -> weight parameter, for ``--ablate``
    budget_params: ClassVar[tuple[str, ...]] = ()  # schedules counted in epochs or steps (benchmark/budget.py)
    time_constants: ClassVar[tuple[TimeConstant, ...]] = ()  # per-step momenta and ramps, kept as a fraction of training
    search_space: ClassVar[dict] = {}  # tuned parameter -> distribution (benchmark/search_space.py; {}: none)
    later_params: ClassVar[dict[str, object]] = {}  # parameter -> value it must keep its earlier runs' ids at

    @classmethod
    def run_params(cls, params) -> dict:
        """``params`` as a run records them: a parameter added after runs were committed (``later_params``) is left
        out while it has the value that reproduces the earlier code, so those runs keep their ids."""
        values = dataclasses.asdict(params)
        return {k: v for k, v in values.items() if k not in cls.later_params or v != cls.later_params[k]}

    def __init__(self, params):
        self.params = params

    def extra_backbones(self) -> tuple[str, ...]:
        """Registered backbones this configuration loads besides the task's (``task.backbone_by_name``); their
        weights enter the run identity and are loaded before a sweep starts."""
        return ()

    def check(self, shape: TaskShape) -> None:
        """Raise ``GFaceError`` if this configuration cannot run on a task of this shape (called before a sweep)."""

    @abstractmethod
    def run(self, task: GCDTask) -> Predictions:
        """Fit on the task and predict every set in ``task.prediction_sets``."""


def resolve_params(method_name: str, method: type[Method], profile: str, overrides: dict[str, str],
                   budget: int | None = None):
    """Paper defaults, then the profile's values (if the method has that profile), then the budget (``budget``,
    else the profile's ``"budget"``; benchmark/budget.py), then ``--set`` overrides."""
    values = dict(method.profiles.get(profile, {}))
    profile_budget = values.pop(BUDGET_KEY, None)
    budget = profile_budget if budget is None else budget
    if budget is not None:
        values.update(budget_values(method_name, method, budget, values.get("view_bank", 0)))
    hints = typing.get_type_hints(method.Params)
    names = [f.name for f in dataclasses.fields(method.Params)]
    for key, raw in overrides.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=2)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise GFaceError(f"--set {method_name}.{key}: {method_name} has no parameter {key!r}.{hint} "
                             f"Its parameters: {', '.join(names)}")
        values[key] = _convert(raw, hints[key], f"{method_name}.{key}")
    params = method.Params(**values)
    for f in dataclasses.fields(params):
        low, value = f.metadata.get("min"), getattr(params, f.name)
        if low is not None and value is not None and value < low:
            source = "--set" if f.name in overrides else f"profile {profile!r}:"
            raise GFaceError(f"{source} {method_name}.{f.name}={value}: must be at least {low}")
    return params


def _convert(raw: str, kind, where: str):
    if kind is bool:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise GFaceError(f"--set {where}={raw}: expected true or false")
    base = next((t for t in typing.get_args(kind) if t is not type(None)), kind) if typing.get_args(kind) else kind
    if raw.lower() == "none" and type(None) in typing.get_args(kind):
        return None
    try:
        return base(raw)
    except (TypeError, ValueError) as exc:
        raise GFaceError(f"--set {where}={raw}: expected a value of type {getattr(base, '__name__', base)}") from exc


def parse_overrides(items: list[str]) -> dict[str, dict[str, str]]:
    """``["gcd.epochs=5", "kmeans.n_init=3"]`` -> ``{"gcd": {"epochs": "5"}, "kmeans": {"n_init": "3"}}``."""
    parsed: dict[str, dict[str, str]] = {}
    for item in items:
        target, sep, value = item.partition("=")
        method, dot, key = target.partition(".")
        if not (sep and dot and method and key):
            raise GFaceError(f"--set {item!r}: expected METHOD.PARAM=VALUE, e.g. --set ss-kmeans.n_init=20")
        parsed.setdefault(method, {})[key] = value
    return parsed

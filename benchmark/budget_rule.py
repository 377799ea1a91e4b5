"""Learning curves and the budget rule: accuracy on D_U against the training budget, and the budget chosen from it.

A curve point is a complete run at a budget of E epochs (benchmark/budget.py: its schedules scaled to E), so the
point at E is what a run of E epochs gives, not an intermediate epoch of a longer run. Budgets double: 1, 2, 4, ...

The rule, the same for every learner and protocol (``GAIN``: 1 point of All accuracy on D_U, mean over seeds; seed
noise is about that size, so one doubling alone cannot tell a plateau from a dip):
- **plateau**: the curve has plateaued at budget E once the next two doublings (2E and 4E) together gained at most
  ``GAIN`` over the best All at budgets up to E;
- **chosen budget**: the smallest budget up to the plateau whose All is within ``GAIN`` of the best All of the
  curve up to 4E;
- a learner's budget is the largest chosen budget over the protocols (one ``cpu`` profile serves all of them);
- a curve that has not plateaued by the largest budget run (the cap) gets that budget and is marked as not
  plateaued.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

GAIN = 0.01  # one point of accuracy (fractions)
CURVE_SET = "unlabelled_train"  # D_U, the transductive GCD set
CURVE_METRICS = ("all", "old", "new")


def curve_points(frame: pd.DataFrame) -> pd.DataFrame:
    """Results rows (benchmark/reporting/collect.py) -> one row per (method, protocol, budget, metric): mean, std, n,
    collapsed runs. Only full configurations (no ablations) on D_U."""
    rows = frame[(frame["eval_set"] == CURVE_SET) & (frame["ablation"].fillna("") == "")
                 & frame["metric"].isin(CURVE_METRICS)].copy()
    rows["budget"] = [json.loads(p).get("epochs") for p in rows["params"]]
    rows = rows[rows["budget"].notna()]
    rows["budget"] = rows["budget"].astype(int)
    grouped = rows.groupby(["method", "protocol", "budget", "metric"])
    points = grouped["value"].agg(mean="mean", std="std", n="count").reset_index()
    points["collapsed"] = grouped["collapsed"].sum().to_numpy().astype(int)
    return points.fillna({"std": 0.0})


@dataclass(frozen=True)
class Choice:
    """The rule's outcome on one curve."""

    method: str
    protocol: str
    budgets_run: tuple[int, ...]
    plateau: int | None  # the budget at which the curve plateaued, None if not by the largest one run
    chosen: int
    plateau_all: float  # the best All up to two doublings past the plateau (or All at the largest budget run)


def choose(all_by_budget: dict[int, float], method: str = "", protocol: str = "") -> Choice:
    """Apply the rule to one curve: ``{budget: mean All}`` over doubling budgets."""
    budgets = sorted(all_by_budget)
    values = [all_by_budget[b] for b in budgets]
    plateau = next((k for k in range(len(budgets) - 2)
                    if max(values[k + 1:k + 3]) <= max(values[:k + 1]) + GAIN), None)
    if plateau is None:
        return Choice(method, protocol, tuple(budgets), None, budgets[-1], values[-1])
    level = max(values[:plateau + 3])
    chosen = next(b for b, v in zip(budgets, values) if v >= level - GAIN)
    return Choice(method, protocol, tuple(budgets), budgets[plateau], chosen, level)


def has_plateaued(all_by_budget: dict[int, float]) -> bool:
    return len(all_by_budget) > 2 and choose(all_by_budget).plateau is not None


def choices(points: pd.DataFrame) -> list[Choice]:
    """The rule on every (method, protocol) curve of ``curve_points``."""
    alls = points[points["metric"] == "all"]
    return [choose(dict(zip(group["budget"], group["mean"])), method, protocol)
            for (method, protocol), group in alls.groupby(["method", "protocol"])]


def method_budgets(found: list[Choice]) -> dict[str, int]:
    """One budget per learner: the largest chosen budget over its protocols."""
    budgets: dict[str, int] = {}
    for choice in found:
        budgets[choice.method] = max(budgets.get(choice.method, 0), choice.chosen)
    return budgets

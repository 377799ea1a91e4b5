"""Training budgets (benchmark/budget.py) and the budget rule on learning curves (benchmark/budget_rule.py)."""
from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from benchmark import budget
from benchmark.budget import budget_values, is_learner, scaled
from benchmark.core.errors import GFaceError
from benchmark.core.paths import LEADERBOARD_DIR
from benchmark.core.registry import METHODS
from benchmark.budget_rule import choices, choose, curve_points, has_plateaued, method_budgets
from benchmark.method import resolve_params
from benchmark.plan import expand
from benchmark.plugin_discovery import load_plugins

load_plugins()  # collection-time list of the registered learners
LEARNERS = [m for m in METHODS.names() if is_learner(METHODS.get(m))]


def test_scaling_keeps_the_paper_proportions_rounding_half_up_and_never_below_one():
    assert scaled(30, 4, 200) == 1  # 0.6
    assert scaled(30, 16, 200) == 2  # 2.4
    assert scaled(50, 4, 200) == 1
    assert scaled(1000, 4, 200) == 20
    assert scaled(30, 5, 60) == 3  # 2.5 rounds up
    assert scaled(0, 16, 200) == 0
    assert scaled(1, 1, 200) == 1


def test_budget_values_of_digface_and_a_method_that_does_not_learn():
    digface = METHODS.get("digface")
    assert budget_values("digface", digface, 8, view_bank=8) == {
        "epochs": 8, "teacher_warmup_epochs": 1, "cluster_start_epoch": 2, "grl_max_iters": 40, "view_bank": 16}
    assert budget_values("kmeans", METHODS.get("kmeans"), 8) == {}
    with pytest.raises(GFaceError, match="at least 1"):
        budget_values("gcd", METHODS.get("gcd"), 0)


@pytest.mark.parametrize("method", LEARNERS)
def test_budget_params_are_integer_parameters_of_the_method(method):
    cls = METHODS.get(method)
    fields = {f.name: f for f in dataclasses.fields(cls.Params)}
    for name in cls.budget_params:
        assert name in fields and isinstance(fields[name].default, int), f"{method}.{name}"


def test_a_sweep_budget_overrides_the_profile_and_set_overrides_the_budget():
    simgcd = METHODS.get("simgcd")
    profile = resolve_params("simgcd", simgcd, "cpu", {})
    at_16 = resolve_params("simgcd", simgcd, "cpu", {}, budget=16)
    assert (at_16.epochs, at_16.teacher_warmup_epochs, at_16.view_bank) == (16, 2, 32)
    assert at_16.proj_hidden_dim == profile.proj_hidden_dim  # the profile's other values stay
    assert resolve_params("simgcd", simgcd, "cpu", {"epochs": "3"}, budget=16).epochs == 3
    specs = expand(["simgcd", "kmeans"], ["synthface-basic"], 1, {}, budget=2)
    assert {s.method: s.params.get("epochs") for s in specs} == {"simgcd": 2, "kmeans": None}


def test_the_rule_waits_two_doublings_and_picks_the_smallest_budget_within_one_point_of_the_best():
    rising = {1: 0.30, 2: 0.40, 4: 0.47, 8: 0.475, 16: 0.48}
    choice = choose(rising)
    assert (choice.plateau, choice.chosen) == (4, 4)  # 8 and 16 gained 1 point at most over 4
    assert choice.plateau_all == pytest.approx(0.48)
    dip = {1: 0.552, 2: 0.526, 4: 0.563, 8: 0.565, 16: 0.566}  # a dip at 2 is not a plateau: 4 beats 1 by > 1 point
    assert (choose(dip).plateau, choose(dip).chosen) == (4, 4)
    falling = {1: 0.50, 2: 0.45, 4: 0.44}
    assert (choose(falling).plateau, choose(falling).chosen) == (1, 1)
    unfinished = choose({1: 0.2, 2: 0.3, 4: 0.4})
    assert unfinished.plateau is None and unfinished.chosen == 4
    assert choose({4: 0.5}).plateau is None  # one point: nothing to compare
    assert not has_plateaued({}) and not has_plateaued({1: 0.5, 2: 0.5}) and has_plateaued(falling)


def test_curve_points_average_seeds_per_budget_and_ignore_ablations_and_other_sets():
    def row(epochs, value, rep, eval_set="unlabelled_train", ablation="", collapsed=False):
        return {"method": "m", "protocol": "p", "params": json.dumps({"epochs": epochs}), "eval_set": eval_set,
                "ablation": ablation, "metric": "all", "value": value, "repetition": rep, "collapsed": collapsed}
    frame = pd.DataFrame([row(2, 0.4, 0), row(2, 0.5, 1, collapsed=True), row(4, 0.6, 0), row(4, 0.9, 0, "test"),
                          row(4, 0.1, 0, ablation="ce")])
    points = curve_points(frame).set_index("budget")
    assert points.at[2, "mean"] == pytest.approx(0.45) and points.at[2, "n"] == 2 and points.at[2, "collapsed"] == 1
    assert points.at[4, "mean"] == pytest.approx(0.6) and points.at[4, "n"] == 1
    assert method_budgets(choices(curve_points(frame))) == {"m": 4}  # not plateaued: the largest budget run


def test_every_learner_trains_at_the_budget_the_rule_chose():
    """The committed budgets (leaderboard/budgets.csv, from the learning curves) are the cpu profiles' budgets."""
    table = pd.read_csv(LEADERBOARD_DIR / "budgets.csv")
    chosen = table.groupby("method")["method_budget"].first().to_dict()
    for method in sorted(LEARNERS):
        assert method in chosen, f"{method} has no learning curve: python -m benchmark.tools.learning_curves"
        profile = METHODS.get(method).profiles["cpu"]
        assert profile.get("budget") == chosen[method], f"{method}: cpu budget {profile.get('budget')} vs the " \
                                                        f"rule's {chosen[method]}"


# --- per-step time constants (benchmark/budget.py, Method.time_constants) --------------------------------------------

def _fraction_reached(momentum: float, steps: int) -> float:
    """The horizon 1 / (1 - m) of a momentum as a fraction of a training of ``steps`` steps."""
    return 1.0 / (1.0 - momentum) / steps


@pytest.mark.parametrize("epochs", [4, 16, 200])
def test_legogcds_prior_keeps_its_release_horizon_fraction_at_every_budget(epochs):
    """The release: qhat_m 0.999 over 200 epochs x 390 steps (CIFAR-100, batch 128), a horizon of 1/78 of training."""
    legogcd = METHODS.get("legogcd")
    (constant,) = legogcd.time_constants
    release = _fraction_reached(0.999, 200 * 390)
    steps_per_epoch = 23  # a SynthFACE-sized task: 2,999 training images // batch 128
    momentum = budget.time_constant_at(legogcd, "prior_momentum", 0.999, epochs * steps_per_epoch)
    assert 0.0 < momentum < 0.999
    assert _fraction_reached(momentum, epochs * steps_per_epoch) == pytest.approx(release, rel=1e-9)


def test_the_paper_schedule_gives_the_paper_value_back_and_clips_below_one_step():
    momentum = budget.TimeConstant("m", budget.MOMENTUM, 78_000)
    ramp = budget.TimeConstant("r", budget.RAMP, 19_000)
    assert budget.at_steps(momentum, 0.999, 78_000) == pytest.approx(0.999)
    assert budget.at_steps(momentum, 0.999, 39_000) == pytest.approx(1 - 1 / 500)  # half the steps, half the horizon
    assert budget.at_steps(momentum, 0.999, 40) == 0.0  # a horizon under one step: no averaging, never negative
    assert budget.at_steps(momentum, 0.0, 10**6) == 0.0 and budget.at_steps(momentum, 1.0, 10) == 1.0
    assert budget.at_steps(ramp, 1000, 19_000) == 1000
    assert budget.at_steps(ramp, 1000, 368) == 19  # 1000 x 368 / 19,000 = 19.4
    assert budget.at_steps(ramp, 1000, 5) == 1 and budget.at_steps(ramp, 0, 5) == 0
    with pytest.raises(GFaceError, match="not one of its declared"):
        budget.time_constant_at(METHODS.get("legogcd"), "lr", 0.1, 100)


def test_the_record_keeps_the_resolved_time_constants():
    legogcd = METHODS.get("legogcd")
    params = resolve_params("legogcd", legogcd, "cpu", {})
    record = budget.time_constant_record(legogcd, params, 16 * 23)
    assert record == {"prior_momentum": {"paper_schedule_value": 0.999, "paper_steps": 78_000, "steps": 368,
                                         "used": pytest.approx(1 - 78 / 368)}}


@pytest.mark.parametrize("method", LEARNERS)
def test_time_constants_name_parameters_of_the_right_kind(method):
    cls = METHODS.get(method)
    defaults = {f.name: f.default for f in dataclasses.fields(cls.Params)}
    for constant in cls.time_constants:
        assert constant.name in defaults and constant.name not in cls.budget_params, f"{method}.{constant.name}"
        assert constant.paper_steps >= 1
        value = defaults[constant.name]
        if constant.kind == budget.MOMENTUM:
            assert isinstance(value, float) and 0.0 <= value < 1.0
        else:
            assert constant.kind == budget.RAMP and isinstance(value, int)


def test_publishing_some_curves_keeps_the_committed_curves_of_the_others():
    from benchmark.tools.learning_curves import with_committed_points

    def points(method, protocol, budgets, value):
        return pd.DataFrame([{"method": method, "protocol": protocol, "budget": b, "metric": "all", "mean": value,
                              "std": 0.0, "n": 3, "collapsed": 0} for b in budgets])
    committed = pd.concat([points("a", "p", [1, 2, 4], 0.5), points("b", "p", [1, 2], 0.4), points("b", "q", [1], 0.3)])
    fresh = pd.concat([points("b", "p", [1, 2, 4, 8], 0.6), points("c", "p", [1], 0.7)])
    merged = with_committed_points(committed, fresh)
    by_curve = merged.groupby(["method", "protocol"])["budget"].apply(list).to_dict()
    assert by_curve == {("a", "p"): [1, 2, 4], ("b", "p"): [1, 2, 4, 8], ("b", "q"): [1], ("c", "p"): [1]}
    assert set(merged.loc[merged["method"] == "b", "mean"]) == {0.6, 0.3}  # the fresh curve replaced its own whole

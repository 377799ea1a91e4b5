"""A parameter added to a method after its runs were committed keeps those runs' ids at its earlier value."""
from dataclasses import dataclass

from benchmark.core.registry import METHODS
from benchmark.plan import expand
from tests.toy_plugins import ToyParams, ToySemiSupervised


@dataclass
class ToyParamsWithHead(ToyParams):
    head: str = "euclidean"


class ToyWithLaterHead(ToySemiSupervised):
    Params = ToyParamsWithHead
    later_params = {"head": "euclidean"}


def _plan(monkeypatch, method_class, overrides=None):
    monkeypatch.setitem(METHODS._entries, "toy-ss", method_class)
    return expand(["toy-ss"], ["toy-basic"], 1, overrides or {})


def test_a_later_parameter_at_its_earlier_value_keeps_the_run_ids(monkeypatch):
    before = _plan(monkeypatch, ToySemiSupervised)
    after = _plan(monkeypatch, ToyWithLaterHead)
    assert [s.run_id for s in after] == [s.run_id for s in before]
    assert "head" not in after[0].params
    assert ToyWithLaterHead.Params(**after[0].params).head == "euclidean"  # the run still gets the default


def test_a_later_parameter_at_another_value_gives_new_ids(monkeypatch):
    before = _plan(monkeypatch, ToySemiSupervised)
    hyperbolic = _plan(monkeypatch, ToyWithLaterHead, {"toy-ss": {"head": "hyperbolic"}})
    assert hyperbolic[0].params["head"] == "hyperbolic"
    assert {s.run_id for s in hyperbolic}.isdisjoint(s.run_id for s in before)

"""The fair comparison (protocols/README.md, "Fair comparison"): equal, reproducible search draws; a selection rule
that reads only held-out labelled images; partition families that keep class counts and are disjoint and complete."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark import runner
from benchmark.budget import is_learner
from benchmark.core.errors import GFaceError
from benchmark.core.paths import PROTOCOLS_DIR
from benchmark.core.registry import METHODS, PROTOCOLS
from benchmark.plan import expand
from benchmark.plugin_discovery import load_plugins
from benchmark.protocol import LABELLED_VALIDATION, VALIDATION, Protocol
from benchmark.reporting.board import render_markdown
from benchmark.reporting.collect import collect_records
from benchmark.reporting.fair import rank_taus, select, selection_agreement
from benchmark.reporting.store import read_results, write_results
from benchmark.search_space import LogUniform, draw, tuned
from benchmark.splits import hold_out_validation
from benchmark.tools.partitions import partitions

load_plugins()
FAMILIES = {"synthface-basic": (5, False), "synthface-compound": (3, True)}  # base -> (count, leave one new out)


def _family(base: str) -> list[Protocol]:
    return [Protocol.from_file(p) for p in sorted(PROTOCOLS_DIR.glob(f"{base}-p?.yaml"))]


# search spaces and draws

@pytest.mark.parametrize("method", METHODS.names())
def test_every_learner_has_a_search_space_of_its_own_non_budget_parameters(method):
    cls = METHODS.get(method)
    space = cls.search_space
    fields = {f.name: f.default for f in dataclasses.fields(cls.Params)}
    assert bool(space) == is_learner(cls), "learners are tuned; k-means baselines have nothing to tune"
    assert set(space) <= set(fields) and not set(space) & {"epochs", *cls.budget_params}
    assert all(isinstance(fields[name], float) and fields[name] > 0 for name in space)


def test_the_one_rule_gives_each_kind_of_parameter_its_range():
    @dataclasses.dataclass
    class Params:
        lr: float = 0.1
        weight_decay: float = 1e-4
        loss_weight: float = 0.35
        temperature: float = 0.07

    space = tuned(Params, weights=("loss_weight",), temperatures=("temperature",))
    assert space["lr"].around(0.1) == LogUniform(0.1 / math.sqrt(10), 0.1 * math.sqrt(10))
    assert space["weight_decay"].around(1e-4) == LogUniform(1e-5, 1e-3)
    assert space["loss_weight"].around(0.35) == LogUniform(0.175, 0.7)
    assert space["temperature"].around(0.07) == LogUniform(0.035, 0.14)
    with pytest.raises(GFaceError, match="positive float"):
        tuned(Params, decays=("weight_decay", "lr"), weights=("missing",))


def test_draws_are_reproducible_inside_their_space_and_draw_0_is_the_default():
    space, centre = METHODS.get("simgcd").search_space, {"lr": 0.1, "weight_decay": 5e-5, "sup_weight": 0.35,
                                                         "memax_weight": 1.0, "student_temperature": 0.1}
    assert draw("simgcd", space, centre, "p", 0, 0) == {}
    first = [draw("simgcd", space, centre, "p", 0, i) for i in range(1, 6)]
    assert first == [draw("simgcd", space, centre, "p", 0, i) for i in range(1, 6)]
    assert all(values[name] in space[name].around(centre[name]) for values in first for name in space)
    assert len({json.dumps(v, sort_keys=True) for v in first}) == 5
    assert draw("simgcd", space, centre, "other", 0, 1) != first[0]
    assert draw("simgcd", space, centre, "p", 1, 1) != first[0]


def test_a_search_is_centred_on_the_profiles_values():
    """mek's cpu profile changes its learning rate; its draws spread around that, not the paper's."""
    specs = expand(["mek"], ["toy-cnn-p0"], 1, {}, hparam_search=8)
    centre = specs[0].params["lr"]
    assert centre == METHODS.get("mek").profiles["cpu"]["lr"]
    assert all(centre / 10 ** 0.5 <= s.params["lr"] <= centre * 10 ** 0.5 for s in specs)
    assert len({s.params["lr"] for s in specs}) == 8


def test_a_search_gives_every_method_with_a_space_exactly_n_configurations():
    specs = expand(["gcd", "simgcd", "kmeans"], ["toy-cnn-p0", "toy-cnn-p1"], 2, {}, hparam_search=4)
    count = pd.Series([(s.protocol.id, s.method) for s in specs]).value_counts()
    assert (count.drop([("toy-cnn-p0", "kmeans"), ("toy-cnn-p1", "kmeans")]) == 4 * 2).all()
    assert count[("toy-cnn-p0", "kmeans")] == 2  # nothing to tune: its one configuration, per seed
    gcd = [s for s in specs if s.method == "gcd" and s.protocol.id == "toy-cnn-p0" and s.repetition == 0]
    assert [s.hparam_draw for s in gcd] == [0, 1, 2, 3]
    assert gcd[0].params == expand(["gcd"], ["toy-cnn-p0"], 1, {})[0].params
    assert len({s.run_id for s in specs}) == len(specs)
    assert [s.run_id for s in specs] == [s.run_id for s in expand(["gcd", "simgcd", "kmeans"],
                                                                  ["toy-cnn-p0", "toy-cnn-p1"], 2, {},
                                                                  hparam_search=4)]


@pytest.mark.parametrize("method, protocols, overrides, ablate, message", [
    ("gcd", ["toy-cnn"], {}, False, "hold out no labelled validation images"),
    ("gcd", ["toy-cnn-p0"], {"gcd": {"lr": "0.2"}}, False, "--hparam-search draws lr"),
    ("digface", ["toy-cnn-p0"], {}, True, "separate sweeps"),
])
def test_a_search_refuses_what_it_cannot_do_fairly(method, protocols, overrides, ablate, message):
    with pytest.raises(GFaceError, match=message):
        expand([method], protocols, 1, overrides, ablate=ablate, hparam_search=2)


# held-out validation images

def test_validation_is_a_per_class_fifth_of_the_labelled_images_and_nothing_else():
    labelled = np.arange(100, 200)
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    kept, validation = hold_out_validation(labelled, labels, 0.2, 0)
    assert not set(kept) & set(validation) and set(kept) | set(validation) == set(labelled)
    by_class = np.bincount(labels[np.searchsorted(labelled, validation)], minlength=3)
    assert by_class.tolist() == [10, 6, 4]
    assert np.array_equal(validation, hold_out_validation(labelled, labels, 0.2, 0)[1])
    assert not len(hold_out_validation(labelled, labels, 0.0, 0)[1])


def test_a_partition_split_holds_validation_apart_and_the_method_never_gets_its_labels(run_dirs, monkeypatch):
    runs_dir, cache_dir = run_dirs
    seen = {}

    def spy(self, task):
        seen["task"] = task
        return original(self, task)

    original = METHODS.get("kmeans").run
    monkeypatch.setattr(METHODS.get("kmeans"), "run", spy)
    spec = expand(["kmeans"], ["toy-cnn-p0"], 1, {})[0]
    env = runner.Environment(runs_dir, cache_dir, None, torch.device("cpu"))
    record = runner.run_one(spec, env)
    split = env.split(spec)
    parts = [split.labelled_idx, split.unlabelled_idx, split.test_idx, split.validation_idx]
    assert sum(map(len, parts)) == len(np.unique(np.concatenate(parts)))
    assert len(split.validation_idx) and (split.validation_y < spec.protocol.n_known).all()
    task = seen["task"]
    assert len(task.labelled_y) == len(task.labelled_idx) == len(split.labelled_idx)
    assert not set(task.validation_idx) & set(task.labelled_idx)
    assert set(record["results"]) == {"unlabelled_train", "test", VALIDATION}
    assert record["method"]["model_selection"] == LABELLED_VALIDATION


# the selection rule

def _search_frame(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for protocol, method, rep, index in np.ndindex(2, 3, 2, 4):
        run_id = f"p{protocol}-m{method}-r{rep}-d{index}"
        for eval_set in ("unlabelled_train", "test", VALIDATION):
            for metric in ("all", "old", "new"):
                rows.append({"protocol": f"fam-p{protocol}", "family": "fam", "model_selection": LABELLED_VALIDATION,
                             "method": f"m{method}", "backbone": "b", "ablation": "", "split_seed": 0,
                             "repetition": rep, "hparam_draw": index, "run_id": run_id, "eval_set": eval_set,
                             "metric": metric, "value": rng.uniform()})
    return pd.DataFrame(rows)


def test_the_selection_rule_never_reads_d_u_or_test_scores():
    frame = _search_frame(np.random.default_rng(0))
    chosen = select(frame, "selected")
    poisoned = frame.copy()
    hidden = poisoned["eval_set"] != VALIDATION
    poisoned.loc[hidden, "value"] = np.random.default_rng(1).uniform(size=hidden.sum())
    assert select(poisoned, "selected").equals(chosen)
    assert not select(poisoned, "oracle").equals(select(frame, "oracle"))  # the oracle does read D_U
    validation = frame[(frame["eval_set"] == VALIDATION) & (frame["metric"] == "all")]
    best = validation.loc[validation.groupby(["protocol", "method", "repetition"])["value"].idxmax(), "run_id"]
    assert sorted(chosen["run_id"]) == sorted(best)
    assert (select(frame, "defaults")["hparam_draw"] == 0).all() and len(select(frame, "defaults")) == 12


def test_kendall_tau_of_the_partition_rankings():
    frame = _search_frame(np.random.default_rng(0))
    frame = frame[frame["hparam_draw"] == 0]
    for protocol, order in (("fam-p0", [0.3, 0.5, 0.7]), ("fam-p1", [0.7, 0.5, 0.3])):
        for method, value in zip(("m0", "m1", "m2"), order):
            frame.loc[(frame["protocol"] == protocol) & (frame["method"] == method), "value"] = value
    assert rank_taus(frame, "defaults") == [-1.0]


def test_selection_agreement_is_the_rank_correlation_of_validation_and_d_u_over_a_slots_draws():
    frame = _search_frame(np.random.default_rng(0))
    d_u = frame[frame["eval_set"] == "unlabelled_train"].set_index(["run_id", "metric"])["value"]
    validation = frame["eval_set"] == VALIDATION
    keys = pd.MultiIndex.from_frame(frame.loc[validation, ["run_id", "metric"]])
    sign = np.where(frame.loc[validation, "method"] == "m1", -1.0, 1.0)  # m1's rule ranks draws backwards
    frame.loc[validation, "value"] = sign * d_u.loc[keys].to_numpy()
    m2 = frame["method"] == "m2"  # draws ranked 1 2 3 4 on validation and 2 1 3 4 on D_U: rho = 1 - 6 * 2 / 60
    for rows, values in ((m2 & validation, [0.1, 0.2, 0.3, 0.4]),
                         (m2 & (frame["eval_set"] == "unlabelled_train"), [0.2, 0.1, 0.3, 0.4])):
        frame.loc[rows, "value"] = np.take(values, frame.loc[rows, "hparam_draw"])
    agreement = selection_agreement(frame)
    assert agreement["m0"] == pytest.approx(1.0) and agreement["m1"] == pytest.approx(-1.0)
    assert agreement["m2"] == pytest.approx(0.8)
    single_draw = selection_agreement(frame[frame["hparam_draw"] == 0])
    assert single_draw.empty


# partition families

@pytest.mark.parametrize("base", FAMILIES)
def test_each_family_is_committed_complete_disjoint_and_keeps_the_class_counts(base):
    count, leave_one_out = FAMILIES[base]
    family, reference = _family(base), PROTOCOLS.get(base)
    assert len(family) == count and all(p.family == f"{base}-partitions" for p in family)
    assert [(p.known, p.new) for p in family] == partitions(reference, count, 0, leave_one_out)
    assert len({(frozenset(p.known), frozenset(p.new)) for p in family}) == count
    for p in family:
        assert not set(p.known) & set(p.new)
        assert p.model_selection == LABELLED_VALIDATION and VALIDATION in p.eval_sets and dict(p.split_sha256)
        if leave_one_out:
            assert p.known == reference.known and set(p.new) < set(reference.new)
            assert len(p.new) == len(reference.new) - 1
        else:
            assert set(p.class_names) == set(reference.class_names)
            assert (p.n_known, len(p.new)) == (reference.n_known, len(reference.new))
    if not leave_one_out:
        assert (family[0].known, family[0].new) == (reference.known, reference.new)  # the base's own comes first


def test_a_toy_search_reaches_the_fair_tables(run_dirs, tmp_path):
    runs_dir, cache_dir = run_dirs
    env = runner.Environment(runs_dir, cache_dir, None, torch.device("cpu"))
    specs = expand(["gcd", "kmeans"], ["toy-cnn-p0", "toy-cnn-p1"], 1, {}, profile="smoke", hparam_search=2)
    for spec in specs:
        runner.run_one(spec, env)
    write_results(collect_records(runs_dir), tmp_path / "results")
    frame = read_results(tmp_path / "results")
    assert sorted(frame.drop_duplicates("run_id")["hparam_draw"].value_counts().tolist()) == [2, 4]
    markdown = render_markdown(frame)
    fair = markdown.split("## Fair comparison", 1)[1]
    assert "### toy-cnn-partitions (2 partitions)" in fair and "toy-cnn-p0 All" not in markdown
    assert fair.count("| gcd ") == 3 and fair.count("| kmeans ") == 3
    assert "Kendall's τ" in fair


def test_a_slot_still_missing_draws_is_left_out_of_every_table():
    frame = _search_frame(np.random.default_rng(0))
    unfinished = frame[~((frame["protocol"] == "fam-p1") & (frame["method"] == "m0") & (frame["repetition"] == 1)
                         & (frame["hparam_draw"] == 3))]
    for rule in ("defaults", "selected", "oracle"):
        chosen = select(unfinished, rule)
        assert len(chosen) == 11
        assert not ((chosen["protocol"] == "fam-p1") & (chosen["method"] == "m0") & (chosen["repetition"] == 1)).any()

"""Generic tests of every registered plugin and protocol file, collected from the registries: a new method file in
``methods/`` (with a ``smoke`` profile) is tested here with no other edit.

Each method runs end to end under its ``smoke`` profile on a toy GCD protocol and a toy open-set protocol, returns
valid predictions for every set, keeps the knownness contract, and gives the same output twice for one seed.
"""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark import runner
from benchmark.budget import BUDGET_KEY
from benchmark.core.paths import PROTOCOLS_DIR
from benchmark.core.registry import BACKBONES, DATASETS, METHODS
from benchmark.method import Predictions
from benchmark.plan import expand
from benchmark.plugin_discovery import load_plugins
from benchmark.protocol import Protocol

load_plugins()  # collection-time lists: the registered plugins, not the test toys
ALL_METHODS, ALL_DATASETS, ALL_BACKBONES = METHODS.names(), DATASETS.names(), BACKBONES.names()
PROTOCOL_FILES = sorted(PROTOCOLS_DIR.glob("*.yaml"))
TOY_PROTOCOLS = ("toy-cnn", "toy-open-delta", "toy-cnn-p0")  # tests/data/protocols: GCD, open-set, and
# a partition with held-out labelled validation images (every method predicts them)


def smoke_run(method: str, protocol: str, tmp_path: Path, monkeypatch) -> tuple[Predictions, runner.Split, dict]:
    """One run under the smoke profile; returns the method's predictions, the split and the record."""
    captured = {}

    def capture(predictions, split, n_known):
        captured.update(predictions=predictions, split=split)
        return scored(predictions, split, n_known)

    scored = runner.score_predictions
    monkeypatch.setattr(runner, "score_predictions", capture)
    spec = expand([method], [protocol], 1, {}, profile="smoke")[0]
    env = runner.Environment(tmp_path / "runs", tmp_path / "cache", None, torch.device("cpu"))
    record = runner.run_one(spec, env)
    return captured["predictions"], captured["split"], record


@pytest.mark.parametrize("method", ALL_METHODS)
def test_method_declares_a_smoke_profile_of_its_own_parameters(method):
    cls = METHODS.get(method)
    assert "smoke" in cls.profiles, f"{method}: add a tiny 'smoke' entry to its profiles (a few seconds on CPU)"
    fields = {f.name for f in dataclasses.fields(cls.Params)}
    for profile, values in cls.profiles.items():
        assert set(values) <= fields | {BUDGET_KEY}, f"{method} profile {profile!r} names unknown parameters"
    assert cls.summary, f"{method}: set a one-line summary (shown by --list methods)"


@pytest.mark.parametrize("protocol", TOY_PROTOCOLS)
@pytest.mark.parametrize("method", ALL_METHODS)
def test_method_runs_and_predicts_every_set(method, protocol, run_dirs, tmp_path, monkeypatch):
    predictions, split, record = smoke_run(method, protocol, tmp_path, monkeypatch)
    for eval_set in split.protocol.prediction_sets:
        ids = np.asarray(predictions.clusters[eval_set])
        assert ids.shape == split.indices(eval_set).shape and np.issubdtype(ids.dtype, np.integer)
        assert ids.min(initial=0) >= 0
    assert set(record["results"]) == set(split.protocol.eval_sets)
    for values in record["results"].values():
        assert 0 <= values["all"] <= 1


@pytest.mark.parametrize("method", ALL_METHODS)
def test_method_keeps_the_knownness_contract(method, run_dirs, tmp_path, monkeypatch):
    predictions, split, _ = smoke_run(method, "toy-open-delta", tmp_path, monkeypatch)
    assert set(predictions.knownness) <= set(split.protocol.prediction_sets)
    assert bool(predictions.knownness) == bool(predictions.score_adapter), "a knownness score names its adapter"
    for eval_set, score in predictions.knownness.items():
        score = np.asarray(score, dtype=np.float64)
        assert score.shape == split.indices(eval_set).shape and np.isfinite(score).all()


@pytest.mark.parametrize("method", ALL_METHODS)
def test_method_is_deterministic_for_a_seed(method, run_dirs, tmp_path, monkeypatch):
    first = smoke_run(method, "toy-cnn", tmp_path / "a", monkeypatch)[0]
    second = smoke_run(method, "toy-cnn", tmp_path / "b", monkeypatch)[0]
    for eval_set, ids in first.clusters.items():
        np.testing.assert_array_equal(ids, second.clusters[eval_set])
    for eval_set, score in first.knownness.items():
        np.testing.assert_array_equal(score, second.knownness[eval_set])


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_dataset_loader_follows_the_contract(dataset):
    loader = DATASETS.get(dataset)
    assert list(inspect.signature(loader).parameters) == ["data_root", "cache_dir"]
    assert inspect.getdoc(loader), f"dataset {dataset}: the loader's docstring says what it loads"


@pytest.mark.parametrize("backbone", ALL_BACKBONES)
def test_backbone_factory_follows_the_contract(backbone):
    factory = BACKBONES.get(backbone)
    assert list(inspect.signature(factory).parameters) == ["cache_dir"]
    assert inspect.getdoc(factory), f"backbone {backbone}: the factory's docstring says what it builds"


@pytest.mark.parametrize("path", PROTOCOL_FILES, ids=[p.stem for p in PROTOCOL_FILES])
def test_protocol_file_names_registered_plugins(path):
    protocol = Protocol.from_file(path)
    assert protocol.dataset in ALL_DATASETS and protocol.backbone in ALL_BACKBONES
    for method in ALL_METHODS:  # every method resolves its parameters under the protocol's profile
        expand([method], [protocol.id], 1, {})

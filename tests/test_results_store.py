"""The results store (leaderboard/results/): exact round trips, the old single file's conversion, additive diffs,
version refusal, and the committed store's size."""
from __future__ import annotations

import difflib
import json

import numpy as np
import pandas as pd
import pytest

from benchmark.core.errors import GFaceError
from benchmark.core.paths import LEADERBOARD_DIR
from benchmark.reporting.collect import COLUMNS
from benchmark.reporting.store import STORE_FILE, read_results, write_results
from benchmark.reporting.store_legacy import read_legacy_csv
from benchmark.tools.migrate_results import main as migrate_main


def _run(protocol: str, method: str, seed: int, params: dict, results: dict, **fields) -> list[dict]:
    base = {"protocol": protocol, "protocol_version": 2, "dataset": "toy", "open_class": "", "family": "",
            "model_selection": "last_epoch", "method": method, "params": json.dumps(params, sort_keys=True),
            "hparam_draw": 0, "ablation": "", "backbone": "toy-pixels", "scorer": "hungarian_v2/1",
            "split_seed": seed, "repetition": 0, "run_id": f"split{seed}-rep0-{method}", "split_sha256": "ab12",
            "versions": "5a79e34512eb", "method_version": "2", "collapsed": False, "n_classes": 7, "k_given": True,
            "k_estimated": None, "score_adapter": ""} | fields
    return [{**base, "eval_set": eval_set, "metric": metric, "value": value}
            for eval_set, values in results.items() for metric, value in values.items()]


def _frame() -> pd.DataFrame:
    """Two protocols, three evaluation sets, nulls, a metric only one set has, parameters whose JSON holds commas,
    quotes and a float, an estimated K, a collapsed run and a leave-one-class-out run."""
    rows = (_run("toy-basic", "kmeans", 0, {"n_init": 10, "note": 'a "quoted", text'},
                 {"test": {"all": 0.5123456789, "old": 0.6, "new": None},
                  "unlabelled_train": {"all": 0.25, "auroc": None, "fpr_at_tpr95": 1.0}})
            + _run("toy-basic", "kmeans", 1, {"n_init": 10, "note": 'a "quoted", text'},
                   {"test": {"all": 0.1, "old": 0.0, "new": 1 / 3}, "unlabelled_train": {"all": 0.3}},
                   collapsed=True)
            + _run("toy-basic", "gcd", 0, {"lr": 0.05}, {"test": {"all": 0.7}, "validation": {"all": 0.9}},
                   k_given=False, k_estimated=5, hparam_draw=3, family="toy-partitions", model_selection="best_val")
            + _run("toy-open-a", "msp", 0, {}, {"osfer_pool": {"auroc": 0.8, "closed_accuracy": None}},
                   open_class="a", score_adapter="max_softmax"))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _legacy_csv(frame: pd.DataFrame, path) -> None:
    """The old single file, written as the code before the store wrote it."""
    ordered = frame.sort_values(["protocol", "method", "params", "ablation", "split_seed", "repetition", "eval_set",
                                 "metric"], kind="stable")
    path.write_text(ordered.to_csv(index=False, float_format="%.6f"))


def test_an_old_results_csv_migrates_into_the_store_and_reads_back_exactly(tmp_path):
    frame = _frame()
    _legacy_csv(frame, tmp_path / "results.csv")
    old = read_legacy_csv(tmp_path / "results.csv")
    assert old["value"].isna().sum() == 3 and old["k_estimated"].notna().sum() == 2  # nulls and K survive the file
    assert migrate_main([str(tmp_path)]) == 0
    assert not (tmp_path / "results.csv").exists()
    back = read_results(tmp_path / "results")
    pd.testing.assert_frame_equal(back, old, check_exact=True)  # values, NaNs, types, row order
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [STORE_FILE, "toy-basic", "toy-open-a"]


def test_a_written_store_reads_back_every_value_to_six_decimals(tmp_path):
    frame = _frame()
    write_results(frame, tmp_path / "results")
    back = read_results(tmp_path / "results")
    key = ["protocol", "method", "run_id", "eval_set", "metric"]
    expected = frame.sort_values(key).reset_index(drop=True)
    got = back.sort_values(key).reset_index(drop=True)
    assert len(got) == len(expected) == 14
    assert np.allclose(got["value"], expected["value"].astype(float), atol=5e-7, rtol=0, equal_nan=True)
    assert got["value"].isna().tolist() == expected["value"].isna().tolist()
    for column in set(COLUMNS) - {"value", "k_estimated", "n_classes"}:
        assert got[column].tolist() == expected[column].tolist(), column
    for column in ("k_estimated", "n_classes"):
        assert np.array_equal(got[column], expected[column].astype(float), equal_nan=True), column


def test_the_store_keeps_one_row_per_run_and_set_and_the_parameters_once(tmp_path):
    write_results(_frame(), tmp_path / "results")
    runs = (tmp_path / "results" / "toy-basic" / "runs.csv").read_text().splitlines()
    scores = (tmp_path / "results" / "toy-basic" / "scores.csv").read_text().splitlines()
    assert len(runs) == 1 + 3 and len(scores) == 1 + 6
    assert sum("n_init" in line for line in runs) == 2 and not any("n_init" in line for line in scores)
    row = dict(zip(scores[0].split(","), scores[1].split(",")))  # gcd's test set: one metric, the rest absent
    assert (row["method"], row["eval_set"], row["all"], row["old"]) == ("gcd", "test", "0.700000", "")
    assert any(",null," in line for line in scores)


def test_a_publish_that_adds_runs_only_adds_lines(tmp_path):
    frame = _frame()
    first = frame[~((frame["method"] == "kmeans") & (frame["split_seed"] == 0))]
    write_results(first, tmp_path / "results")
    before = {p: p.read_text() for p in (tmp_path / "results").rglob("*.csv")}
    write_results(pd.concat([read_results(tmp_path / "results"), frame[frame["method"] == "kmeans"]
                             .query("split_seed == 0")], ignore_index=True), tmp_path / "results")
    changed = 0
    for path, text in before.items():
        diff = list(difflib.unified_diff(text.splitlines(), path.read_text().splitlines(), lineterm="", n=0))
        assert not [d for d in diff[2:] if d.startswith("-")], diff
        changed += sum(d.startswith("+") for d in diff[2:])
    assert changed == 1 + 2  # the new run's line in runs.csv, its two sets' lines in scores.csv


def test_a_protocol_whose_runs_are_gone_leaves_the_store(tmp_path):
    frame = _frame()
    write_results(frame, tmp_path / "results")
    write_results(frame[frame["protocol"] == "toy-basic"], tmp_path / "results")
    assert not (tmp_path / "results" / "toy-open-a").exists()
    assert set(read_results(tmp_path / "results")["protocol"]) == {"toy-basic"}


def test_a_store_of_another_version_is_refused(tmp_path):
    write_results(_frame(), tmp_path / "results")
    (tmp_path / "results" / STORE_FILE).write_text(json.dumps({"store_version": 3}))
    with pytest.raises(GFaceError, match="results store version 3, and this code reads versions 1, 2"):
        read_results(tmp_path / "results")
    (tmp_path / "results" / STORE_FILE).unlink()
    with pytest.raises(GFaceError, match="not a readable results store"):
        read_results(tmp_path / "results")


def test_a_version_1_store_reads_with_the_method_version_not_recorded(tmp_path):
    """Version 2 added ``method_version``; a store written before it reads, the column empty ("not recorded")."""
    frame = _frame()
    write_results(frame, tmp_path / "results")
    for runs_csv in (tmp_path / "results").glob("*/runs.csv"):
        runs_csv.write_text(pd.read_csv(runs_csv, dtype=str, keep_default_na=False)
                            .drop(columns="method_version").to_csv(index=False))
    (tmp_path / "results" / STORE_FILE).write_text(json.dumps({"store_version": 1}))
    back = read_results(tmp_path / "results")
    assert set(back["method_version"]) == {""} and list(back.columns) == list(COLUMNS)
    assert back.drop(columns="method_version").equals(read_results_v2(frame, tmp_path).drop(columns="method_version"))


def read_results_v2(frame: pd.DataFrame, tmp_path) -> pd.DataFrame:
    write_results(frame, tmp_path / "again")
    back = read_results(tmp_path / "again")
    assert set(back["method_version"]) == {"2"}
    return back


def test_the_old_single_file_is_refused_with_the_command_that_converts_it(tmp_path, capsys):
    _legacy_csv(_frame(), tmp_path / "results.csv")
    with pytest.raises(GFaceError, match="python -m benchmark.tools.migrate_results"):
        read_results(tmp_path / "results")
    assert migrate_main([str(tmp_path)]) == 0
    assert migrate_main([str(tmp_path)]) == 2  # nothing left to convert
    assert capsys.readouterr().err.startswith("error: ")


def test_two_configurations_under_one_run_id_are_refused(tmp_path):
    frame = _frame()
    frame.loc[frame.index[0], "backbone"] = "another"
    with pytest.raises(GFaceError, match="two different configurations"):
        write_results(frame, tmp_path / "results")


def test_the_committed_store_stays_small():
    files = [p for p in (LEADERBOARD_DIR / "results").rglob("*") if p.is_file()]
    assert files and not (LEADERBOARD_DIR / "results.csv").exists()
    assert sum(p.stat().st_size for p in files) < 10 * 2**20
    assert max(p.stat().st_size for p in files) < 5 * 2**20

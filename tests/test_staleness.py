"""Stale results are noticed: a change of method code version, backbone weights or dataset content makes finished
runs pending again (reported as stale by --dry-run), and the leaderboard refuses a cell that mixes versions."""
import dataclasses
import json

import pytest

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.core.registry import BACKBONES, DATASETS, METHODS
from benchmark.reporting.board import render_markdown
from benchmark.reporting.collect import collect_records
from benchmark.reporting.store import read_results
from tests.toy_plugins import toy_backbone, toy_data

RUN = ["--methods", "toy-ss", "--protocols", "toy-basic", "--no-leaderboard"]


def _cli(run_dirs, *args):
    runs, cache = run_dirs
    return main([*RUN, *args, "--runs-dir", str(runs), "--cache-dir", str(cache)])


def _changed_method_version(monkeypatch):
    monkeypatch.setattr(METHODS.get("toy-ss"), "version", 2)


def _changed_weights(monkeypatch):
    monkeypatch.setitem(BACKBONES._entries, "toy-pixels",
                        lambda cache: dataclasses.replace(toy_backbone(cache), weights_sha256="retrained"))


def _changed_data(monkeypatch):
    monkeypatch.setitem(DATASETS._entries, "toy-blobs",
                        lambda root, cache: dataclasses.replace(toy_data(), content_key="regenerated"))


@pytest.mark.parametrize("change", [_changed_method_version, _changed_weights, _changed_data])
def test_a_change_makes_finished_runs_pending_and_dry_run_says_stale(run_dirs, capsys, monkeypatch, change):
    assert _cli(run_dirs) == 0
    assert _cli(run_dirs, "--dry-run") == 0
    assert "1 runs: 1 done, 0 pending" in capsys.readouterr().out
    change(monkeypatch)
    assert _cli(run_dirs, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "1 runs: 0 done, 1 pending (1 of them replace stale records" in out
    assert _cli(run_dirs) == 0
    assert "ran 1, skipped 0" in capsys.readouterr().out


def test_the_leaderboard_refuses_a_cell_of_mixed_versions(run_dirs, monkeypatch):
    assert _cli(run_dirs) == 0
    _changed_weights(monkeypatch)
    assert _cli(run_dirs, "--seeds", "2") == 0  # rep 0 again on the new weights, rep 1 new: old rep 0 still on disk
    frame = collect_records(run_dirs[0])
    assert frame["versions"].nunique() == 2
    with pytest.raises(GFaceError, match="mix runs of different data, weights or code versions"):
        render_markdown(frame)
    fresh = frame[frame["versions"] == frame.loc[frame["repetition"] == 1, "versions"].iloc[0]]
    assert "toy-ss" in render_markdown(fresh)


def test_a_rerun_replaces_the_older_run_of_its_slot_in_the_results_store(run_dirs, tmp_path, monkeypatch, capsys):
    runs, _ = run_dirs
    out = tmp_path / "board"
    assert _cli(run_dirs) == 0
    assert main(["leaderboard", "--runs-dir", str(runs), "--output-dir", str(out)]) == 0
    _changed_method_version(monkeypatch)
    assert _cli(run_dirs, "--runs-dir", str(tmp_path / "new-runs")) == 0
    assert main(["leaderboard", "--runs-dir", str(tmp_path / "new-runs"), "--output-dir", str(out)]) == 0
    frame = read_results(out / "results")
    assert frame["run_id"].nunique() == 1 and frame["versions"].nunique() == 1  # the old run was replaced


def test_a_truncated_record_makes_its_run_pending_again(run_dirs, capsys):
    assert _cli(run_dirs) == 0
    record = next(run_dirs[0].glob("toy-basic/toy-ss/*/record.json"))
    record.write_text(record.read_text()[:100])
    capsys.readouterr()
    assert _cli(run_dirs, "--dry-run") == 0
    assert "1 runs: 0 done, 1 pending" in capsys.readouterr().out
    assert _cli(run_dirs) == 0
    assert json.loads(record.read_text())["run_id"] == record.parent.name


def test_runs_of_an_older_method_version_show_apart_marked_and_counted(run_dirs, monkeypatch, tmp_path, capsys):
    """A method version bump leaves the older runs on the board as their own row, marked (code v1), never averaged
    with the new code's runs; the section and ``leaderboard --check`` count them."""
    from benchmark.reporting.older_code import is_older_code, mark_older_code, older_code_counts, older_code_summary
    assert _cli(run_dirs) == 0
    _changed_method_version(monkeypatch)
    assert _cli(run_dirs, "--seeds", "2") == 0  # rep 0 again at version 2, rep 1 new: the version-1 rep 0 stays
    frame = collect_records(run_dirs[0])
    assert sorted(frame.drop_duplicates("run_id")["method_version"]) == ["1", "2", "2"]
    assert is_older_code(frame).equals(frame["method_version"] == "1")
    marked, _ = mark_older_code(frame)
    assert set(marked["method"]) == {"toy-ss", "toy-ss (code v1)"}
    counts = older_code_counts(marked)
    assert counts[["method", "part", "recorded", "current", "runs"]].values.tolist() == [
        ["toy-ss", "main tables, toy-blobs", 1, 2, 1]]
    text = render_markdown(marked)
    assert "| toy-ss (code v1) |" in text and "(code vN) marks a method's runs of an older version" in text
    assert "## Runs of older code" in text and "| toy-ss | main tables, toy-blobs | 1 | 1 | 2 |" in text
    assert "Runs of older code" not in render_markdown(frame[frame["method_version"] == "2"])
    assert older_code_summary(marked) == "1 runs of older method code, shown apart as (code vN): toy-ss v1 (code v2): 1"
    out = tmp_path / "board"
    runs, cache = run_dirs
    assert main(["leaderboard", "--runs-dir", str(runs), "--cache-dir", str(cache), "--output-dir", str(out)]) == 0
    assert "| toy-ss (code v1) |" in (out / "LEADERBOARD.md").read_text()


def test_a_run_without_a_recorded_version_or_of_an_unregistered_method_is_not_judged():
    import pandas as pd
    from benchmark.reporting.older_code import is_older_code
    frame = pd.DataFrame({"method": ["legogcd", "legogcd", "legogcd (yours)", "not-registered", "legogcd"],
                          "method_version": ["1", "", "1", "1", str(METHODS.get("legogcd").version)]})
    assert is_older_code(frame).tolist() == [True, False, True, False, False]

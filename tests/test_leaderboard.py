"""Leaderboard: golden output from frozen records, version mixing refused, staleness check, LaTeX, chart."""
import json
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.reporting.board import README_END, README_START, render_markdown
from benchmark.reporting.cells import cell, row_labels
from benchmark.reporting.collect import collect_records
from benchmark.reporting.latex import render_latex
from benchmark.reporting.store import read_results, write_results

DATA = Path(__file__).parent / "data"


@pytest.fixture
def board(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(DATA / "frozen_runs", runs)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_START}\nold table\n{README_END}\n\nmore text\n")
    out = tmp_path / "leaderboard"
    return runs, readme, out


def _leaderboard(board, *extra):
    runs, readme, out = board
    return main(["leaderboard", "--publish", "--runs-dir", str(runs), "--readme", str(readme), "--output-dir", str(out),
                 *extra])


def test_golden_markdown_from_frozen_records(board):
    assert _leaderboard(board, "--latex") == 0
    _, readme, out = board
    assert (out / "LEADERBOARD.md").read_text() == (DATA / "leaderboard_golden.md").read_text()
    assert (out / "leaderboard.tex").read_text() == (DATA / "leaderboard_golden.tex").read_text()
    text = readme.read_text()
    assert "old table" not in text and text.endswith(f"{README_END}\n\nmore text\n")
    assert "| 1      | SS-k-means | 65.2 ± 1.0 (3) |" in text and "Set-up: data data-a, data-b" in text
    assert (out / "leaderboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "openset.png").exists()  # no open-set records, no open-set chart


def test_check_passes_when_fresh_and_fails_when_stale(board, capsys):
    assert _leaderboard(board) == 0
    assert _leaderboard(board, "--check") == 0
    _, readme, out = board
    (out / "LEADERBOARD.md").write_text((out / "LEADERBOARD.md").read_text().replace("65.2", "99.9"))
    assert _leaderboard(board, "--check") == 1
    assert "stale: LEADERBOARD.md" in capsys.readouterr().err


def test_without_records_the_committed_csv_is_rendered(board):
    assert _leaderboard(board) == 0
    runs, _, out = board
    first = (out / "LEADERBOARD.md").read_text()
    shutil.rmtree(runs)
    runs.mkdir()
    assert _leaderboard(board) == 0
    assert (out / "LEADERBOARD.md").read_text() == first


def test_mixing_protocol_versions_is_refused(board, tmp_path):
    runs, _, _ = board
    record_path = next(runs.glob("proto-a/kmeans/*/record.json"))
    record = json.loads(record_path.read_text())
    record["protocol"]["version"] = 2
    record_path.write_text(json.dumps(record))
    with pytest.raises(GFaceError, match="mix protocol_version values \\['1', '2'\\]"):
        render_markdown(collect_records(runs))


def test_a_record_of_another_schema_is_refused_with_its_path(board):
    runs, _, _ = board
    record_path = next(runs.glob("proto-b/kmeans/*/record.json"))
    record_path.write_text(json.dumps({**json.loads(record_path.read_text()), "schema": 99}))
    with pytest.raises(GFaceError, match=f"{record_path} has schema 99.*delete {record_path.parent} to run it again"):
        collect_records(runs)


def test_mixing_scorers_is_refused(board):
    runs, _, _ = board
    record_path = next(runs.glob("proto-b/kmeans/*/record.json"))
    record = json.loads(record_path.read_text())
    record["scorer"] = "hungarian_v1/1"
    record_path.write_text(json.dumps(record))
    with pytest.raises(GFaceError, match="mix scorer values"):
        render_latex(collect_records(runs))


def test_csv_round_trip_keeps_per_seed_values(board, tmp_path):
    frame = collect_records(board[0])
    write_results(frame, tmp_path / "results")
    back = read_results(tmp_path / "results")
    assert len(back) == len(frame) == 8 * 2 * 11  # 8 runs, 2 evaluation sets, 11 metrics
    primary = back[(back.metric == "all") & (back.eval_set == "unlabelled_train")]
    assert sorted(primary["value"]) == pytest.approx(sorted([0.512, 0.498, 0.655, 0.641, 0.66, 0.301, 0.45, 0.47]))


def test_cell_format():
    import pandas as pd
    assert cell(pd.Series([0.5, 0.6]), percent=True) == "55.0 ± 7.1 (2)"
    assert cell(pd.Series([0.5]), percent=True) == "50.0 (1)"
    assert cell(pd.Series([0.91234, 0.9]), percent=False) == "0.906 ± 0.009 (2)"
    assert cell(pd.Series([], dtype=float), percent=True) == "–"


def test_row_labels_name_the_differing_parameters_even_one_an_older_record_lacks():
    import pandas as pd
    frame = pd.DataFrame({"method": ["m", "m", "m", "k"], "backbone": "b", "protocol": "p",
                          "params": [json.dumps({"lr": 0.1}), json.dumps({"lr": 0.1, "pool": 0}),
                                     json.dumps({"lr": 0.2, "pool": 5}), json.dumps({"n": 1})]})
    assert list(row_labels(frame)) == ["m (lr=0.1, pool=–)", "m (lr=0.1, pool=0)", "m (lr=0.2, pool=5)", "k"]


def test_records_replace_their_own_rows_and_other_runs_are_kept(board):
    runs, _, out = board
    assert _leaderboard(board) == 0
    everything = read_results(out / "results")
    kept_run = next(runs.glob("proto-a/kmeans/*"))
    shutil.rmtree(kept_run)  # its record is gone from this machine; its committed rows must stay
    changed = next(runs.glob("proto-a/ss-kmeans/*/record.json"))
    record = json.loads(changed.read_text())
    record["results"]["unlabelled_train"]["all"] = 0.123
    changed.write_text(json.dumps(record))
    assert _leaderboard(board) == 0
    merged = read_results(out / "results")
    assert len(merged) == len(everything)
    assert kept_run.name in set(merged.loc[merged["method"] == "kmeans", "run_id"])
    row = merged[(merged["protocol"] == "proto-a") & (merged["method"] == "ss-kmeans")
                 & (merged["run_id"] == record["run_id"]) & (merged["eval_set"] == "unlabelled_train")
                 & (merged["metric"] == "all")]
    assert row["value"].tolist() == [0.123]
    assert _leaderboard(board, "--rebuild") == 0
    rebuilt = read_results(out / "results")
    assert kept_run.name not in set(rebuilt.loc[(rebuilt["protocol"] == "proto-a") & (rebuilt["method"] == "kmeans"),
                                                "run_id"])


def test_the_committed_leaderboard_matches_the_committed_results_store():
    assert main(["leaderboard", "--check"]) == 0  # else: python run_benchmark.py leaderboard, and commit the tables


def test_latex_has_no_column_for_a_protocol_with_only_ablation_runs():
    frame = collect_records(DATA / "frozen_ablation_runs")
    frame = frame[(frame["protocol"] == "proto-a") | (frame["ablation"] != "")]  # proto-b keeps ablation runs only
    assert set(frame.loc[frame["ablation"] != "", "protocol"]) == {"proto-a", "proto-b"}
    main = render_latex(frame).split(r"\end{table}")[0].splitlines()  # the D_U table comes first
    body = main[main.index(r"\midrule") + 1:main.index(r"\bottomrule")]
    assert r"\begin{tabular}{lcccc}" in main and "proto-b" not in "\n".join(main)  # All, Old, New, Mean All
    assert body and all(row.count("&") == 4 for row in body)


def test_latex_escapes_text_and_bolds_only_the_best_all_of_each_column():
    frame = collect_records(DATA / "frozen_runs")
    text = render_latex(frame)
    assert r"D\_U" in text and r"$\pm$" in text and "±" not in text
    main = text.split(r"\end{table}")[0]
    assert r"SS-k-means (1) & \bfseries 65.2 $\pm$ 1.0 (3) & 80.1" in main  # the higher All; Old never bold
    assert main.count(r"\bfseries") == 3  # All of proto-a, All of proto-b, Mean All
    assert text.count(r"\begin{table}") == 1  # no fair-comparison or open-set records: the main table only

"""The open-set leaderboard section: golden output from frozen records (rows methods, columns held-out classes)."""
import shutil
from pathlib import Path

import pandas as pd

from benchmark.cli import main
from benchmark.reporting.board import README_END, README_START
from benchmark.reporting.collect import collect_records
from benchmark.reporting.open_set import REFERENCE_ROW, open_set_tables
from benchmark.reporting.store import read_results, write_results
from benchmark.reporting.store_legacy import read_legacy_csv

DATA = Path(__file__).parent / "data"


def test_golden_open_set_tables_from_frozen_records(tmp_path):
    runs, out, readme = tmp_path / "runs", tmp_path / "leaderboard", tmp_path / "README.md"
    shutil.copytree(DATA / "frozen_openset_runs", runs)
    readme.write_text(f"{README_START}\n{README_END}\n")
    assert main(["leaderboard", "--runs-dir", str(runs), "--readme", str(readme), "--output-dir", str(out)]) == 0
    text = (out / "LEADERBOARD.md").read_text().replace(str(tmp_path), "TMP")  # the board names its sources
    assert text == (DATA / "leaderboard_openset_golden.md").read_text()
    # the mean is over held-out classes of per-class means: openset-fer (0.85 + 0.92) / 2
    assert "| openset-fer | 0.850 ± 0.071 (2) | 0.920 (1) † | 0.885  |" in text  # a collapsed run (schema 3)
    assert "| open-a " not in text  # open-set protocols are listed in their own section, not the main header
    assert (out / "openset.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_results_store_keeps_the_open_class(tmp_path):
    frame = collect_records(DATA / "frozen_openset_runs")
    write_results(frame, tmp_path / "results")
    back = read_results(tmp_path / "results")
    pool = back[back["eval_set"] == "osfer_pool"]
    assert sorted(pool["open_class"].unique()) == ["alpha", "beta"]
    assert set(back.loc[back["eval_set"] != "osfer_pool", "open_class"]) == {""}
    closed = pool[(pool["metric"] == "closed_accuracy") & (pool["method"] == "msp")]
    assert sorted(closed["value"]) == [0.8, 0.9]


def test_a_csv_written_before_open_set_protocols_still_reads(tmp_path):
    frame = collect_records(DATA / "frozen_runs").drop(columns="open_class")
    frame.to_csv(tmp_path / "old.csv", index=False)
    assert set(read_legacy_csv(tmp_path / "old.csv")["open_class"]) == {""}


def test_a_reference_score_gets_its_own_row_under_its_method():
    frame = collect_records(DATA / "frozen_openset_runs")
    auroc = frame[(frame["method"] == "openset-fer") & (frame["metric"] == "auroc")]
    tables = dict(open_set_tables(pd.concat([frame, auroc.assign(metric="auroc_reference", value=0.5)])))
    headers, rows = next(table for title, table in tables.items() if "AUROC" in title)
    labels = [row[0] for row in rows]
    assert labels.index("openset-fer" + REFERENCE_ROW) == labels.index("openset-fer") + 1
    assert rows[labels.index("openset-fer" + REFERENCE_ROW)][-1] == "0.500"

"""The headline (default configurations ranked, ≈ within a seed std), --check on charts and LaTeX, and a user's runs
ranked beside the committed board (--with-committed), from frozen records."""
import json
import shutil
from pathlib import Path

import pytest

import benchmark.cli as cli
from benchmark.cli import leaderboard as leaderboard_cli
from benchmark.reporting.board import README_END, README_START
from benchmark.reporting.collect import collect_records
from benchmark.reporting.headline import ranking

DATA = Path(__file__).parent / "data"
IDENTITY = {"data": "d1", "split": "s", "weights": "w1", "method_version": "1", "scorer": "hungarian_v2/1"}


def _records(runs: Path):
    return sorted(runs.glob("*/*/*/record.json"))


def _edit(path: Path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


@pytest.fixture
def committed(tmp_path, monkeypatch):
    """A committed board (leaderboard/ of the frozen runs, with run identities) and its README."""
    runs = tmp_path / "committed_runs"
    shutil.copytree(DATA / "frozen_runs", runs)
    for path in _records(runs):
        _edit(path, lambda r: r.update(identity=IDENTITY))
    board, readme = tmp_path / "leaderboard", tmp_path / "README.md"
    board.mkdir()
    readme.write_text(f"{README_START}\n{README_END}\n")
    monkeypatch.setattr(leaderboard_cli, "LEADERBOARD_DIR", board)
    assert cli.main(["leaderboard", "--publish", "--latex", "--runs-dir", str(runs), "--readme", str(readme)]) == 0
    return board, readme


def test_a_non_default_configuration_stays_out_of_the_headline(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(DATA / "frozen_runs", runs)
    source = next(p for p in _records(runs) if "/kmeans/" in str(p))
    variant = source.parent.parent / "split0-rep0-variant"
    shutil.copytree(source.parent, variant)
    _edit(variant / "record.json", lambda r: (r["method"]["params"].update(n_init=99), r.update(run_id=variant.name)))
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\n{README_END}\n")
    out = tmp_path / "out"
    assert cli.main(["leaderboard", "--publish", "--runs-dir", str(runs), "--readme", str(readme),
                     "--output-dir", str(out)]) == 0
    headline = readme.read_text()
    assert "n_init" not in headline and "| 1      | SS-k-means |" in headline
    board = (out / "LEADERBOARD.md").read_text()
    variants = board.split("## Variants and controls on the default protocols")[1]
    assert "k-means (n_init=99)" in variants and "k-means (default)" in variants


def test_close_rows_are_marked_and_distant_ones_are_not():
    frame = collect_records(DATA / "frozen_runs")
    order = ranking(frame)
    assert list(order["row"]) == ["SS-k-means", "k-means"] and not order["close"].any()  # 55.6 vs 40.3
    gap, spread = order["score"][0] - order["score"][1], order["seed_std"][0]  # k-means has one paired seed: no std
    assert spread > 0
    kmeans = (frame["method"] == "kmeans") & (frame["metric"] == "all") & (frame["eval_set"] == "unlabelled_train")
    for distance, close in ((0.5, True), (1.5, False)):
        moved = frame.copy()
        moved.loc[kmeans, "value"] += gap - distance * spread  # k-means' Mean All: distance seed stds below
        order = ranking(moved)
        assert list(order["row"]) == ["SS-k-means", "k-means"] and list(order["close"]) == [False, close]


def test_check_guards_the_latex_and_the_charts(committed, capsys):
    board, readme = committed
    check = ["leaderboard", "--check", "--readme", str(readme)]
    assert cli.main(check) == 0
    latex = (board / "leaderboard.tex").read_text()
    (board / "leaderboard.tex").write_text(latex.replace("65.2", "99.9"))
    assert cli.main(check) == 1 and "stale: leaderboard.tex" in capsys.readouterr().err
    (board / "leaderboard.tex").write_text(latex)
    chart = (board / "leaderboard.png").read_bytes()
    (board / "leaderboard.png").write_bytes(chart.replace(b"plotted-data-sha256 ", b"plotted-data-sha256 0"))
    assert cli.main(check) == 1 and "stale: leaderboard.png" in capsys.readouterr().err
    (board / "leaderboard.png").unlink()
    assert cli.main(check) == 1


def test_your_runs_are_ranked_beside_committed_runs_of_the_same_identity(committed, tmp_path, capsys):
    board, _ = committed
    mine = tmp_path / "my_runs"
    for path in _records(DATA / "frozen_runs"):
        if "/ss-kmeans/" not in str(path):
            continue
        folder = mine / path.parent.parent.parent.name / "mine" / path.parent.name
        shutil.copytree(path.parent, folder)

        def as_mine(record, protocol=folder.parent.parent.name):
            record.update(identity=IDENTITY if protocol == "proto-a" else {**IDENTITY, "weights": "other"})
            record["method"]["name"] = "mine"
            record["results"]["unlabelled_train"]["all"] = 0.9
        _edit(folder / "record.json", as_mine)
    assert cli.main(["leaderboard", "--runs-dir", str(mine), "--with-committed"]) == 0
    text = (mine / "leaderboard" / "LEADERBOARD.md").read_text()
    assert "the committed `leaderboard/results/`'s runs of the same run identity on proto-a" in text
    assert "kept apart: proto-b: none of your runs has the run identity of a committed run" in text
    assert "not ranked beside the committed board: proto-b" in capsys.readouterr().err
    proto_a = [line for line in text.splitlines() if line.startswith("| ") and "(yours)" in line]
    assert proto_a and "90.0" in proto_a[0]
    # committed rows joined on proto-a only: the committed methods have no proto-b cell, so only yours is ranked
    head = text.split("### D_U (transductive)")[0]
    assert "| 1      | mine (yours) | 90.0 ± 0.0 (3) |" in head
    assert "| –      | SS-k-means" in head and "| –      | k-means" in head
    assert (board / "results" / "store.json").exists() and not (mine / "leaderboard" / "leaderboard.tex").exists()


def test_every_registered_method_has_a_colour_and_marker_pair_of_its_own():
    from benchmark.core.registry import METHODS
    from benchmark.reporting.chart_style import method_styles
    styles = method_styles(METHODS.names())
    assert len({(s["color"], s["marker"]) for s in styles.values()}) == len(styles) > 14

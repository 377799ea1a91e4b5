"""`reproduce`: the sweeps of leaderboard/sweeps.yaml plan exactly the committed runs, and one runs as a sweep."""
import pytest

from benchmark import reproduce
from benchmark.cli import main
from benchmark.cli.reproduce import sweep_specs
from benchmark.core.errors import GFaceError
from benchmark.core.paths import LEADERBOARD_DIR
from benchmark.core.registry import METHODS
from benchmark.plugin_discovery import load_plugins
from benchmark.reporting.board import RUN_SLOT
from benchmark.reporting.store import read_results


def test_the_listed_sweeps_plan_exactly_the_committed_runs(monkeypatch):
    """Every committed run is planned by a sweep, and every planned run is on the board: same protocol, method,
    parameters, ablation, backbone, split seed and repetition (the run id adds the identity: data, split, weights
    and code versions, which the staleness check of each sweep guards)."""
    load_plugins()
    shipped = {name: method for name, method in METHODS._entries.items() if not name.startswith("toy-")}
    monkeypatch.setattr(METHODS, "_entries", shipped)  # `--methods all` as a user's checkout has it
    runs = read_results(LEADERBOARD_DIR / "results").drop_duplicates(["protocol", "method", "run_id"])
    committed = [tuple(row[:5]) + (int(row[5]), int(row[6])) for row in runs[RUN_SLOT].itertuples(index=False)]
    assert len(set(committed)) == len(committed) == runs["run_id"].nunique()  # one run per slot
    planned = {}
    for sweep in reproduce.load_sweeps():
        slots = [reproduce.slot(spec) for spec in sweep_specs(sweep)]
        assert slots, f"sweep {sweep.name} plans no run"
        planned.update({s: sweep.name for s in slots})
    assert set(planned) - set(committed) == set(), "planned by a sweep but not on the committed board"
    assert set(committed) - set(planned) == set(), "on the committed board but planned by no sweep"


def test_reproduce_runs_a_sweep_resumably_with_the_options_passed_on(run_dirs, tmp_path, monkeypatch, capsys):
    runs, cache = run_dirs
    sweeps = tmp_path / "sweeps.yaml"
    sweeps.write_text("sweeps:\n  - name: toy\n    board: a toy table\n    command: --methods toy-ss --protocols "
                      "toy-basic --seeds 2\n    cost: nothing\n")
    monkeypatch.setattr(reproduce, "SWEEPS_FILE", sweeps)
    args = ["reproduce", "--run", "toy", "--runs-dir", str(runs), "--cache-dir", str(cache), "--no-leaderboard"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ran 2, skipped 0 already done, failed 0" in out
    assert "[2/2 runs] toy-basic/toy-ss/" in out and "left" in out  # progress: plain lines when not a terminal
    assert main(args) == 0
    assert "ran 0, skipped 2 already done" in capsys.readouterr().out
    assert main(["reproduce", "--list", "--runs-dir", str(runs)]) == 0
    listed = capsys.readouterr().out
    assert "toy" in listed and "s/run (median of 2 records" in listed  # the cost measured from the records


@pytest.mark.parametrize("args, message", [
    (["--run", "mian"], "no such sweep (did you mean main?)"),
    (["--run", "main", "--methods", "kmeans"], "--methods would change the sweep"),
    (["--list", "--lanes", "2"], "reproduce --list takes no other options"),
])
def test_reproduce_mistakes_are_one_clear_error(args, message, capsys):
    assert main(["reproduce", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_malformed_sweeps_file_is_refused(tmp_path):
    path = tmp_path / "sweeps.yaml"
    path.write_text("sweeps:\n  - name: a\n    board: b\n    comand: --methods all\n")
    with pytest.raises(GFaceError, match="unknown fields \\['comand'\\], missing \\['command'\\]"):
        reproduce.load_sweeps(path)

"""Real-data protocols end to end on fixture data in the official layouts, through the command a user types: a
partition-family member and a cross-dataset protocol on two backbones, their tables, the dry run's cost per
backbone, and the real-data recipes of `reproduce --list`."""
import json
import re

import pytest

from benchmark import reproduce
from benchmark.cli import main
from benchmark.core.errors import GFaceError
from datasets.cross_dataset import parse_cross_dataset
from tests.fixture_data_root import write_data_root

PROTOCOLS = ["rafdb-basic-p0", "rafdb-basic-to-ferplus"]


def test_a_family_member_and_a_cross_dataset_protocol_run_on_two_backbones(run_dirs, tmp_path, capsys):
    runs, cache = run_dirs
    root = write_data_root(tmp_path / "fer")
    sweep = ["--methods", "ss-kmeans", "--protocols", *PROTOCOLS, "--backbones", "toy-pixels", "toy-cnn",
             "--data-root", str(root), "--runs-dir", str(runs), "--cache-dir", str(cache)]
    assert main(sweep + ["--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert "4 runs: 0 done, 4 pending" in planned and re.search(r"toy-pixels\s+2\s+0 of 2\s+not measured", planned)
    assert main(sweep) == 0
    records = [json.loads(p.read_text()) for p in runs.glob("*/ss-kmeans/*/record.json")]
    assert sorted((r["protocol"]["id"], r["backbone"]["name"]) for r in records) == sorted(
        (p, b) for p in PROTOCOLS for b in ("toy-cnn", "toy-pixels"))
    cross = next(r for r in records if r["protocol"]["id"] == "rafdb-basic-to-ferplus")
    assert cross["protocol"]["dataset"] == "rafdb-basic+ferplus-test"
    assert set(cross["results"]) == {"unlabelled_train", "test"} and 0 <= cross["results"]["test"]["all"] <= 1
    board = (runs / "leaderboard" / "LEADERBOARD.md").read_text()
    section = board.split("## Cross-dataset")[1]
    assert "### Trained on rafdb-basic" in section and "ferplus test All" in section
    assert "| ss-kmeans | toy-cnn" in section and "| ss-kmeans | toy-pixels" in section
    assert "rafdb-basic-to-ferplus" not in board.split("## Cross-dataset")[0]  # not in the single-dataset tables
    capsys.readouterr()
    assert main(sweep + ["--dry-run"]) == 0
    assert re.search(r"toy-cnn\s+2\s+2 of 2\s+not measured\s+0\.\d\d \(2 runs\)", capsys.readouterr().out)  # measured by the records just written
    assert main(["leaderboard", "--runs-dir", str(runs), "--latex"]) == 0
    assert "Cross-dataset: trained on rafdb-basic" in (runs / "leaderboard" / "leaderboard.tex").read_text()


def test_recipes_list_their_shape_runs_and_measured_cost(run_dirs, tmp_path, monkeypatch, capsys):
    runs, cache = run_dirs
    recipes = tmp_path / "recipes.yaml"
    recipes.write_text("recipes:\n  - name: toy-real\n    board: a toy board\n    command: --methods toy-ss "
                       "--protocols toy-basic --backbones toy-pixels toy-cnn --seeds 2\n")
    monkeypatch.setattr(reproduce, "RECIPES_FILE", recipes)
    assert main(["reproduce", "--run", "toy-real", "--runs-dir", str(runs), "--cache-dir", str(cache),
                 "--no-leaderboard"]) == 0
    capsys.readouterr()
    assert main(["reproduce", "--list", "--runs-dir", str(runs)]) == 0
    listed = capsys.readouterr().out.split("Real-data boards")[1]
    assert "1 protocol × 2 backbones × 1 method × 2 seeds" in listed
    assert re.search(r"4 runs: 0\.\d\d CPU-hours \(4 runs\)", listed) and "reproduce --run toy-real" in listed


def test_the_shipped_recipes_plan_every_real_protocol_and_no_committed_sweep_name():
    names = {s.name for s in reproduce.load_sweeps()}
    recipes = reproduce.load_recipes()
    assert not names & {r.name for r in recipes}
    commands = " ".join(r.command for r in recipes)
    for pattern in ("'rafdb-basic-p?'", "'rafdb-compound-p?'", "'ferplus-p?'", "'affectnet?-p?'", "'rafdb-basic-to-*'"):
        assert pattern in commands


@pytest.mark.parametrize("raw, message", [
    ({"train": "rafdb-basic", "test": "ferplus", "classes": {"fear": "fear"}}, "must map every protocol class"),
    ({"train": "rafdb-basic", "test": "affectnet8", "classes": {"fear": "fear", "anger": "anger"}},
     "must be named 'rafdb-basic\\+affectnet8-test'"),
    ({"train": "rafdb-basic", "test": "ferplus"}, "exactly the fields"),
    ({"train": "rafdb-basic", "test": "ferplus", "classes": {"fear": "fear", "anger": "fear"}}, "distinct classes"),
])
def test_a_malformed_cross_dataset_declaration_is_one_error(raw, message):
    with pytest.raises(GFaceError, match=message):
        parse_cross_dataset("rafdb-basic+ferplus-test", raw, "p.yaml", ("fear", "anger"))


def test_an_own_dataset_may_not_take_a_cross_dataset_name(tmp_path):
    from datasets.dataset_spec import register_declared_dataset
    with pytest.raises(GFaceError, match="kept for cross-dataset protocols"):
        register_declared_dataset("mine+theirs-test", {"type": "imagefolder", "root": "x"}, tmp_path / "p.yaml")

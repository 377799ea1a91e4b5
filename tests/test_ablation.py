"""Ablation sweeps: plan expansion (full + one configuration per term), the CLI switch, the recorded field, and
the leaderboard's Ablations section (golden output from small frozen records)."""
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.plan import expand
from benchmark.reporting.board import README_END, README_START
from benchmark.reporting.collect import collect_records
from benchmark.reporting.store import read_results, write_results
from benchmark.reporting.store_legacy import read_legacy_csv
from methods.digface import DigFace

DATA = Path(__file__).parent / "data"
TERMS = DigFace.ablation_terms


def test_ablation_plan_has_the_full_configuration_and_one_per_term():
    specs = expand(["digface"], ["toy-cnn"], 1, {}, ablate=True)
    assert len(specs) == 1 + len(TERMS) == 11
    full = specs[0]
    assert full.ablation is None and full.run_id == expand(["digface"], ["toy-cnn"], 1, {})[0].run_id
    assert [s.ablation for s in specs[1:]] == list(TERMS)
    for spec in specs[1:]:
        weight = TERMS[spec.ablation]
        assert spec.params[weight] == 0 and full.params[weight] != 0
        assert {k: v for k, v in spec.params.items() if k != weight} == {
            k: v for k, v in full.params.items() if k != weight}
        assert spec.to_dict()["ablation"] == spec.ablation
    assert len({s.run_id for s in specs}) == len(specs)


def test_ablation_keeps_overrides_and_skips_terms_already_removed():
    specs = expand(["digface", "kmeans"], ["toy-cnn"], 2, {"digface": {"supcon_weight": "0", "released_code": "true"}},
                   ablate=True)
    digface = [s for s in specs if s.method == "digface"]
    assert len([s for s in specs if s.method == "kmeans"]) == 2  # kmeans declares no terms: full runs only
    assert len(digface) == 2 * len(TERMS)  # full + 9 terms (supcon is already at 0), two repetitions each
    assert "supcon" not in {s.ablation for s in digface}
    assert all(s.params["released_code"] and s.params["supcon_weight"] == 0 for s in digface)


def test_ablate_needs_a_method_that_declares_terms():
    with pytest.raises(GFaceError, match="--ablate: none of the selected methods.*digface"):
        expand(["kmeans"], ["toy-cnn"], 1, {}, ablate=True)


def test_cli_dry_run_counts_ablation_runs(run_dirs, capsys):
    runs, cache = run_dirs
    assert main(["--methods", "digface", "--protocols", "toy-cnn", "--ablate", "--dry-run", "--set",
                 "digface.batch_size=16", "--runs-dir", str(runs),
                 "--cache-dir", str(cache)]) == 0
    assert "11 runs: 0 done, 11 pending" in capsys.readouterr().out


def test_ablations_section_golden(tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(DATA / "frozen_ablation_runs", runs)
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\n{README_END}\n")
    out = tmp_path / "leaderboard"
    assert main(["leaderboard", "--runs-dir", str(runs), "--readme", str(readme), "--output-dir", str(out)]) == 0
    text = (out / "LEADERBOARD.md").read_text().replace(str(tmp_path), "TMP")  # the board names its sources
    assert text == (DATA / "leaderboard_ablation_golden.md").read_text()
    assert "supcon" not in readme.read_text()  # ablation runs stay out of the main tables


def test_the_results_store_carries_the_ablation_column(tmp_path):
    frame = collect_records(DATA / "frozen_ablation_runs")
    write_results(frame, tmp_path / "results")
    back = read_results(tmp_path / "results")
    assert sorted(back.drop_duplicates("run_id")["ablation"]) == [""] * 5 + ["cluster"] + ["supcon"] * 4
    legacy = back.drop(columns="ablation")  # an old results.csv written before the column existed
    legacy.to_csv(tmp_path / "legacy.csv", index=False)
    assert list(read_legacy_csv(tmp_path / "legacy.csv")["ablation"].unique()) == [""]
    assert list(read_legacy_csv(tmp_path / "legacy.csv").columns) == list(back.columns)

"""K unknown (protocols/README.md, "K unknown"): a method that estimates K records its estimate beside the true K,
and the leaderboard shows such protocols only in their own table."""

import pandas as pd
import torch

from benchmark import runner
from benchmark.plan import expand
from benchmark.reporting.board import render_markdown
from benchmark.reporting.collect import collect_records
from benchmark.reporting.k_unknown import k_cell
from benchmark.reporting.store import read_results, write_results


def _gcd_run(protocol: str, runs_dir, cache_dir) -> dict:
    spec = expand(["gcd"], [protocol], 1, {}, profile="smoke")[0]
    env = runner.Environment(runs_dir, cache_dir, None, torch.device("cpu"))
    return runner.run_one(spec, env)


def test_gcd_estimates_k_where_the_protocol_does_not_give_it_and_the_board_keeps_it_apart(run_dirs, tmp_path):
    runs_dir, cache_dir = run_dirs
    unknown = _gcd_run("toy-cnn-k-unknown", runs_dir, cache_dir)
    given = _gcd_run("toy-cnn", runs_dir, cache_dir)
    estimate = unknown["K"]["estimated"]
    assert unknown["K"]["value"] == 4 and unknown["K"]["given"] is False
    assert isinstance(estimate, int) and 2 <= estimate <= 60 and unknown["info"]["k_used"] == estimate
    assert given["K"] == {"value": 4, "given": True, "estimated": None}

    frame = collect_records(runs_dir)
    write_results(frame, tmp_path / "results")
    frame = read_results(tmp_path / "results")
    rows = frame[frame["protocol"] == "toy-cnn-k-unknown"]
    assert not rows["k_given"].any() and (rows["k_estimated"] == estimate).all()
    assert frame.loc[frame["protocol"] == "toy-cnn", "k_given"].all()
    markdown = render_markdown(frame)
    main, k_section = markdown.split("## K unknown", 1)
    assert "toy-cnn-k-unknown All" not in main and "toy-cnn All" in main
    assert "toy-cnn-k-unknown estimated K (true 4)" in k_section and f"| {estimate} (1)" in k_section


def test_k_cell_is_mean_and_sample_std_of_the_estimates():
    assert k_cell(pd.Series([7.0, 8.0, 9.0])) == "8.0 ± 1.0 (3)"
    assert k_cell(pd.Series([12.0])) == "12 (1)"
    assert k_cell(pd.Series([None, None], dtype=float)) == "–"

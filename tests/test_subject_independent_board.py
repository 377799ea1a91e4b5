"""The subject-independent section: each subject-independent protocol is paired with its counterpart by task, and
the drop is computed over the seeds both have (hand-computed on the frozen records)."""
from pathlib import Path

import pandas as pd
import pytest

from benchmark.reporting.board import render_markdown
from benchmark.reporting.collect import collect_records
from benchmark.reporting.headline import chart_protocols
from benchmark.reporting.subject_independent import counterparts, drop_table

DATA = Path(__file__).parent / "data"


@pytest.fixture
def frame():
    """The frozen records as synthface-v4-basic (proto-a) and its subject-independent twin (proto-b)."""
    records = collect_records(DATA / "frozen_runs").copy()
    records["protocol"] = records["protocol"].map({"proto-a": "synthface-v4-basic", "proto-b": "synthface-v4-basic-si"})
    return records


def test_a_subject_independent_protocol_is_paired_with_the_same_task_only(frame):
    assert counterparts(frame) == {"synthface-v4-basic-si": "synthface-v4-basic"}
    other = frame.copy()
    other["protocol"] = other["protocol"].replace("synthface-v4-basic", "synthface-v4-basic-open-anger")
    assert counterparts(other) == {}  # other classes: not its counterpart
    other["protocol"] = frame["protocol"].replace("synthface-v4-basic", "synthface-v4-compound")
    assert counterparts(other) == {}


def test_the_drop_is_taken_over_the_seeds_both_protocols_have(frame):
    headers, rows = drop_table(frame)
    assert headers == ["Method", "synthface-v4-basic All", "synthface-v4-basic-si All", "ΔAll",
                       "Mean All (subject-independent)"]
    # SS-k-means D_U All: shared 0.655, 0.641, 0.660 (reps 0-2); subject-independent 0.450, 0.470 (reps 0-1).
    # Δ over reps 0-1: 0.460 - 0.648 = -18.8 points; SE = sqrt(0.0002 / 2 + 0.000098 / 2) = 1.2 points
    assert rows[0] == ["SS-k-means", "65.2 ± 1.0 (3)", "46.0 ± 1.4 (2)", "-18.8 ± 1.2 (2)", "46.0"]
    assert rows[1] == ["k-means", "50.5 ± 1.0 (2)", "30.1 (1)", "-21.1 (1)", "30.1"]  # one shared seed: no error


def test_the_board_gives_the_subject_independent_protocols_a_section_of_their_own(frame):
    board = render_markdown(frame)
    section = board.split("## Subject-independent protocols: synthface-v4-basic-si")[1].split("\n## ")[0]
    assert "What shared people were worth" in section and "-18.8 ± 1.2 (2)" in section
    assert "--protocols synthface-v4-basic-si" in section
    assert "synthface-v4-basic-si" not in board.split("## Subject-independent protocols")[0]
    assert "synthface-v4-basic-si" not in board.split(section)[1].split("## Provenance")[0]


def test_charts_give_a_panel_to_the_protocols_most_methods_ran(frame):
    more = frame[frame["protocol"] == "synthface-v4-basic"].copy()
    more["method"] = more["method"] + "-copy"  # the default protocol: four methods
    few = frame[(frame["protocol"] == "synthface-v4-basic") & (frame["method"] == "kmeans")].copy()
    few["protocol"] = "synthface-v4-basic-narrow"  # a control that one method ran
    assert chart_protocols(pd.concat([frame, more, few])) == ["synthface-v4-basic", "synthface-v4-basic-si"]

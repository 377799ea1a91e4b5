"""What the D_U clusters follow: hand-computed NMI / AMI / ARI cases, the intensity bins, label noise, the results
store's diagnostics.csv and the board section built from it alone, diagnostics collected from a run folder's saved
predictions, and subject-independent splits (disjoint people)."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from benchmark.cluster_factors import factor_rows, intensity_bins
from benchmark.core.attributes import IDENTITY, SampleAttributes
from benchmark.core.errors import GFaceError
from benchmark.core.registry import ATTRIBUTES, PROTOCOLS
from benchmark.plugin_discovery import load_plugins
from benchmark.reporting.board import render_markdown
from benchmark.reporting.charts import render_charts, stale_charts
from benchmark.reporting.factor_store import DIAGNOSTIC_COLUMNS, DIAGNOSTICS_FILE, read_diagnostics
from benchmark.reporting.store import read_results, write_results
from benchmark.reporting.run_diagnostics import collect_diagnostics
from benchmark.splits import materialise
from tests.test_results_store import _frame
from tests.toy_plugins import toy_data

load_plugins()


def values(rows, factor):
    return {r["metric"]: r["value"] for r in rows if r["factor"] == factor}


def test_nmi_ami_ari_by_hand():
    clusters = np.array([0, 0, 1, 1])
    same = values(factor_rows(clusters, np.array([1, 1, 0, 0])), "expression")
    assert same["nmi"] == pytest.approx(1) and same["ami"] == pytest.approx(1) and same["ari"] == pytest.approx(1)
    # a factor independent of the clusters: MI 0; ARI = (0 - 2/3) / (2 - 2/3) = -1/2
    independent = values(factor_rows(clusters, np.array([1, 1, 0, 0]), {"person": np.array(list("abab"))}), "person")
    assert independent["nmi"] == pytest.approx(0) and independent["ari"] == pytest.approx(-0.5)
    # clusters {0,1,2},{3} against classes {0,1},{2,3}: ARI = (1 - 1) / (2.5 - 1) = 0, NMI = 2 MI / (H(Y) + H(C))
    mi = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    h_c, h_y = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)), math.log(2)
    partial = values(factor_rows(np.array([0, 0, 0, 1]), np.array([0, 0, 1, 1])), "expression")
    assert partial["nmi"] == pytest.approx(2 * mi / (h_c + h_y)) and partial["ari"] == pytest.approx(0)
    assert partial["accuracy"] == pytest.approx(0.75)


def test_intensity_bins_and_label_noise():
    np.testing.assert_array_equal(intensity_bins(np.array([0.1, 0.5, 0.74, 0.75, np.nan])), [0, 1, 1, 2, -1])
    clusters, annotated, true = np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1, 1, 2]), np.array([0, 0, 1, 1, 2, 2])
    rows = factor_rows(clusters, annotated, true_labels=true, intensity=np.array([0.1, 0.6, 0.9, np.nan, 0.8, 0.3]))
    assert values(rows, "expression")["accuracy"] == pytest.approx(5 / 6)
    assert values(rows, "true_expression")["accuracy"] == 1.0
    assert values(rows, "label_noise") == pytest.approx({"share": 1 / 6, "follows_annotated": 0.0, "follows_true": 1.0})
    # one matching against the annotated classes: clusters 0->0, 1->1, 2->2; row 4 (strong, class 1) misses
    assert values(rows, "intensity")["accuracy_strong"] == 0.5 and values(rows, "intensity")["accuracy_weak"] == 1.0
    assert "label_noise" not in {r["factor"] for r in factor_rows(clusters, annotated, true_labels=annotated)}


def _diagnostics(frame: pd.DataFrame) -> pd.DataFrame:
    runs = frame.drop_duplicates(["protocol", "method", "run_id"])
    rows = [{"protocol": r.protocol, "method": r.method, "run_id": r.run_id, **row}
            for i, r in enumerate(runs.itertuples())
            for row in factor_rows(np.arange(8) % 2, np.arange(8) % (2 + i % 2), {IDENTITY: np.array(list("aabbccdd"))})]
    return pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS)


def test_the_store_keeps_diagnostics_and_the_board_regenerates_the_section_from_it(tmp_path):
    frame = _frame()
    frame = frame.assign(dataset="synthface-v4-basic")
    assert "What do the clusters follow?" not in render_markdown(frame)  # empty-safe: no diagnostics, no section
    assert "cluster_factors.png" not in render_charts(frame)
    diagnostics = _diagnostics(frame)
    stray = diagnostics.iloc[:1].assign(run_id="gone")  # a run the long table no longer holds is not stored
    write_results(frame, tmp_path, pd.concat([diagnostics, stray]))
    assert (tmp_path / "toy-basic" / DIAGNOSTICS_FILE).is_file()
    back = read_diagnostics(tmp_path)
    pd.testing.assert_frame_equal(
        back.sort_values(DIAGNOSTIC_COLUMNS[:5]).reset_index(drop=True),
        diagnostics.sort_values(DIAGNOSTIC_COLUMNS[:5]).reset_index(drop=True).assign(
            value=lambda d: d["value"].round(6)), check_dtype=False)
    markdown = render_markdown(read_results(tmp_path), diagnostics=back)
    section = markdown.split("## What do the clusters follow?")[1]
    assert "### toy-basic\n" in section and "| person AMI" in section
    charts = render_charts(read_results(tmp_path), back)
    assert "cluster_factors.png" in charts
    (tmp_path / "cluster_factors.png").write_bytes(charts["cluster_factors.png"])
    assert "cluster_factors.png" not in stale_charts(read_results(tmp_path), tmp_path, back)
    changed = back.assign(value=back["value"] + 0.01)
    assert "cluster_factors.png" in stale_charts(read_results(tmp_path), tmp_path, changed)
    write_results(frame, tmp_path)  # written again without diagnostics: the file goes
    assert not (tmp_path / "toy-basic" / DIAGNOSTICS_FILE).exists() and read_diagnostics(tmp_path).empty


def toy_attributes(data) -> SampleAttributes:
    people = np.array([f"p{i % 24}" for i in range(len(data))])
    return SampleAttributes(data.sample_ids, {IDENTITY: people}, true_labels=np.asarray(data.labels),
                            intensity=np.linspace(0, 1, len(data)))


@pytest.fixture
def toy_source():
    ATTRIBUTES.add("toy-blobs", lambda data_root, cache_dir, data: toy_attributes(data))
    yield
    ATTRIBUTES._entries.pop("toy-blobs")


def test_diagnostics_are_collected_from_a_run_folder(tmp_path, toy_source):
    protocol, data = PROTOCOLS.get("toy-basic"), toy_data()
    split = materialise(protocol, data, 0)
    folder = tmp_path / protocol.id / "kmeans" / "run1"
    folder.mkdir(parents=True)
    record = {"protocol": {"id": protocol.id, "dataset": protocol.dataset, "split_sha256": split.sha256},
              "seeds": {"split": 0}, "method": {"name": "kmeans"}, "run_id": "run1"}
    (folder / "record.json").write_text(json.dumps(record))
    np.savez(folder / "predictions.npz", clusters_unlabelled_train=split.unlabelled_y)  # a perfect clustering
    (folder / "done").write_text("x\n")
    table = collect_diagnostics(tmp_path, tmp_path, None)
    got = table.set_index(["factor", "metric"])["value"]
    assert got["expression", "nmi"] == pytest.approx(1) and got["true_expression", "accuracy"] == 1.0
    assert got["identity", "ari"] < 0.2 and set(table["run_id"]) == {"run1"}
    record["protocol"]["split_sha256"] = "0" * 64
    (folder / "record.json").write_text(json.dumps(record))
    with pytest.raises(GFaceError, match="another split"):
        collect_diagnostics(tmp_path, tmp_path, None)


def test_a_subject_independent_split_keeps_the_people_of_its_parts_apart():
    data = toy_data(n_per_class=120)
    protocol = dataclasses.replace(PROTOCOLS.get("toy-basic"), subject_independent=True, split_sha256=())
    with pytest.raises(GFaceError, match="declares no 'identity' attribute"):
        materialise(protocol, data, 0)
    known = toy_attributes(data)
    split = materialise(protocol, data, 0, known)
    people = [set(known.factors[IDENTITY][rows]) for rows in (split.labelled_idx, split.unlabelled_idx, split.test_idx)]
    assert all(people) and not people[0] & people[1] and not people[0] & people[2] and not people[1] & people[2]
    default = materialise(dataclasses.replace(protocol, subject_independent=False), data, 0)
    for part in ("labelled", "unlabelled", "test"):  # the default histograms, scaled by one factor
        ours, theirs = np.array(list(split.histograms()[part].values())), np.array(list(default.histograms()[part].values()))
        assert (ours > 0).tolist() == (theirs > 0).tolist()
        assert np.allclose(ours / ours.sum(), theirs / theirs.sum(), atol=0.03)
    assert materialise(protocol, data, 0, known).sha256 == split.sha256 != materialise(protocol, data, 1, known).sha256


@pytest.mark.parametrize("pair", ["synthface-v4-basic", "synthface-v4-compound"])
def test_the_subject_independent_pair_mirrors_the_default_pair(pair):
    default, si = PROTOCOLS.get(pair), PROTOCOLS.get(f"{pair}-si")
    assert si.subject_independent and not default.subject_independent and dict(si.split_sha256)
    same = ("dataset", "backbone", "known", "new", "labelled_fraction", "split_seeds", "k_given", "eval_sets",
            "model_selection", "scorer", "profile")
    assert all(getattr(si, f) == getattr(default, f) for f in same) and not si.default


def test_the_intensity_bins_and_no_bin_add_up_to_the_accuracy():
    """The MSP case on synthface-v4-basic (overall 33.8 %, every bin 8-17 %): one large cluster holds the neutral
    faces and is matched to neutral, which has no bin. By hand: clusters {0}, {1..8}; the matching gives cluster 0
    class 0 and cluster 1 neutral (class 2, its 4 images), so 5 of 9 are right, and of the binned rows only row 0."""
    clusters, labels = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1]), np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    intensity = np.array([0.2, 0.6, 0.9, 0.3, 0.8] + [np.nan] * 4)  # weak rows 0, 3; medium 1; strong 2, 4
    rows = [r for r in factor_rows(clusters, labels, intensity=intensity) if r["metric"].startswith("accuracy")]
    got = {r["metric"]: (r["value"], r["n"]) for r in rows}
    assert got == {"accuracy": (5 / 9, 9), "accuracy_weak": (0.5, 2), "accuracy_medium": (0.0, 1),
                   "accuracy_strong": (0.0, 2), "accuracy_no_bin": (1.0, 4)}
    binned = [v for m, v in got.items() if m != "accuracy"]
    assert sum(value * n for value, n in binned) / sum(n for _, n in binned) == pytest.approx(got["accuracy"][0])


def test_the_board_says_what_the_intensity_bins_cover():
    frame = _frame().assign(dataset="synthface-v4-basic")
    runs = frame.drop_duplicates(["protocol", "method", "run_id"])
    rows = [{"protocol": r.protocol, "method": r.method, "run_id": r.run_id, **row} for r in runs.itertuples()
            for row in factor_rows(np.arange(8) % 2, np.arange(8) % 3, intensity=np.r_[np.linspace(0, 1, 6), [np.nan] * 2])]
    markdown = render_markdown(frame, diagnostics=pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS))
    assert "| no bin " in markdown.split("### toy-basic")[1] and "neutral faces have no intensity bin" in markdown

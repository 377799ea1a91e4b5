"""Smoke runs of the closed-set FER methods (msp, openset-fer, mek) on the toy leave-one-class-out protocol and,
closed-set, on a toy GCD protocol."""
import json

import numpy as np
import pytest

from benchmark.cli import main

TINY = {"msp": ["epochs=1", "batch_size=16"],
        "openset-fer": ["epochs=1", "batch_size=16", "detector_epochs=2", "cycles=2", "detector_batch_size=16",
                        "kmeans_n_init=2"],
        "mek": ["epochs=1", "batch_size=16"]}


def _run(run_dirs, methods, protocol, *extra):
    runs, cache = run_dirs
    overrides = [x for m in methods for item in TINY[m] for x in ("--set", f"{m}.{item}")]
    assert main(["--methods", *methods, "--protocols", protocol, *overrides, *extra, "--no-leaderboard",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    return {m: json.loads(next(runs.glob(f"{protocol}/{m}/*/record.json")).read_text()) for m in methods}


def test_each_method_scores_the_open_set_pool(run_dirs):
    records = _run(run_dirs, ["msp", "openset-fer", "mek"], "toy-open-delta")
    for method, record in records.items():
        pool = record["results"]["osfer_pool"]
        assert list(record["results"]) == ["osfer_pool"] and record["protocol"]["open_class"] == "delta"
        assert 0 <= pool["auroc"] <= 1 and 0 <= pool["fpr_at_tpr95"] <= 1 and 0 <= pool["closed_accuracy"] <= 1
    info = records["openset-fer"]["info"]
    assert info["mode"] == "paper" and {"detector0-cycle1", "detector1-cycle1"} <= set(info["train"])
    assert 0 <= info["train"]["forget_rate"] < 1  # estimated after the first cycle
    # D_L = every known-class training image, 22 per class: w_k = 66 / (10 * 22)
    assert records["mek"]["info"]["class_weights"] == pytest.approx({"alpha": 0.3, "beta": 0.3, "gamma": 0.3})
    assert records["msp"]["method"]["score_adapter"] == "max_softmax_probability"
    log = next(run_dirs[0].glob("toy-open-delta/msp/*/log.txt")).read_text().splitlines()
    done = [line for line in log if " done " in line]  # the run's summary names the set it scores, not D_U
    assert done and done[-1].endswith("on osfer_pool") and "nan" not in done[-1]


def test_closed_set_methods_run_on_a_gcd_protocol(run_dirs):
    record = _run(run_dirs, ["openset-fer"], "toy-cnn", "--set", "openset-fer.released_code=true")["openset-fer"]
    assert record["info"]["mode"] == "released_code" and "detector" in record["info"]["train"]
    for eval_set in ("unlabelled_train", "test"):
        result = record["results"][eval_set]
        assert 0 <= result["all"] <= 1 and "closed_accuracy" in result and 0 <= result["auroc"] <= 1


def test_openset_fer_detects_with_a_separate_backbone_and_reports_its_closed_models_msp(run_dirs):
    record = _run(run_dirs, ["openset-fer"], "toy-open-delta", "--set", "openset-fer.detector_backbone=toy-cnn-seed1",
                  "--set", "openset-fer.released_code=true")["openset-fer"]
    assert record["info"]["detector_backbone"] == "toy-cnn-seed1"
    assert record["identity"]["weights:toy-cnn-seed1"] == "toy-cnn-seed1"  # its weights enter the run identity
    pool = record["results"]["osfer_pool"]
    assert 0 <= pool["auroc_reference"] <= 1 and 0 <= pool["fpr_at_tpr95_reference"] <= 1
    assert record["method"]["reference_adapter"] == "closed_model_max_softmax_probability"


def test_an_unknown_detector_backbone_stops_the_sweep_before_any_run(run_dirs, capsys):
    runs, cache = run_dirs
    assert main(["--methods", "openset-fer", "--protocols", "toy-open-delta", "--set",
                 "openset-fer.detector_backbone=nope", "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: openset-fer.detector_backbone='nope' is not a registered")
    assert not list(runs.glob("toy-open-delta/openset-fer/*/record.json"))


def test_pseudo_label_spread_on_hand_computed_cases():
    from benchmark.tools.pseudo_label_stats import spread
    entropy, largest, to = spread(np.array([0, 1, 2, 3]), 4)
    assert entropy == pytest.approx(1.0) and largest == 0.25
    entropy, largest, to = spread(np.array([2, 2, 2, 2]), 4)
    assert entropy == 0.0 and largest == 1.0 and to == 2
    entropy, largest, to = spread(np.array([0, 0, 1, 1]), 4)  # two of four classes, evenly: log 2 / log 4
    assert entropy == pytest.approx(0.5) and largest == 0.5 and to == 0

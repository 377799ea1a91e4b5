"""One-epoch DIG-FACE runs in both modes on the toy protocol, through the command line."""
import json

import pytest

from benchmark.cli import main

TINY = ["epochs=1", "batch_size=16", "proj_hidden_dim=32", "aux_hidden_dim=32", "teacher_warmup_epochs=1",
        "cluster_start_epoch=0"]


@pytest.mark.parametrize("released_code", ["false", "true"])
def test_one_epoch_smoke_run(run_dirs, released_code):
    runs, cache = run_dirs
    overrides = [x for item in [*TINY, f"released_code={released_code}"] for x in ("--set", f"digface.{item}")]
    assert main(["--methods", "digface", "--protocols", "toy-cnn", *overrides, "--no-leaderboard",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    folder = next(runs.glob("toy-cnn/digface/*"))
    record = json.loads((folder / "record.json").read_text())
    for eval_set in ("unlabelled_train", "test"):
        results = record["results"][eval_set]
        assert 0.0 <= results["all"] <= 1.0 and 0.0 <= results["auroc"] <= 1.0
    assert record["method"]["score_adapter"] == "known_class_probability_mass"
    assert record["method"]["ablation"] is None
    assert record["info"]["mode"] == ("released_code" if released_code == "true" else "paper")
    assert record["info"]["memax_epsilon"] == (2.0 if released_code == "true" else 1.0)
    assert record["info"]["train"]["epochs_run"] == 1
    assert not (folder / "checkpoint.pt").exists()  # deleted once the run is done


def test_unknown_classifier_placement_is_refused_at_planning(run_dirs, capsys):
    runs, cache = run_dirs
    assert main(["--methods", "digface", "--protocols", "toy-cnn", "--set", "digface.classifier_on=middle",
                 "--dry-run", "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 2
    assert "digface.classifier_on='middle': choose one of projector, backbone" in capsys.readouterr().err

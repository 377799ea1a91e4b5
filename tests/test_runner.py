"""Runner: records, idempotency, resume after a killed run, plan."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.core.paths import REPO_ROOT
from benchmark.plan import expand

RUN = ["--protocols", "toy-basic", "--no-leaderboard"]


def _cli(run_dirs, *args):
    runs, cache = run_dirs
    return main([*args, "--runs-dir", str(runs), "--cache-dir", str(cache)])


def _records(runs: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*/*/*/record.json"))]


def test_record_has_metrics_and_provenance(run_dirs):
    assert _cli(run_dirs, "--methods", "toy-ss", "ss-kmeans", *RUN) == 0
    records = _records(run_dirs[0])
    assert {r["method"]["name"] for r in records} == {"toy-ss", "ss-kmeans"}
    record = next(r for r in records if r["method"]["name"] == "ss-kmeans")
    folder = run_dirs[0] / "toy-basic" / "ss-kmeans" / record["run_id"]
    assert {p.name for p in folder.iterdir()} >= {"spec.json", "record.json", "log.txt", "done"}
    results = record["results"]
    assert set(results) == {"unlabelled_train", "test"}
    assert {"all", "old", "new", "all_v1", "all_balanced", "auroc", "fpr_at_tpr95", "per_class_recall",
            "confusion"} <= set(results["unlabelled_train"])
    assert results["unlabelled_train"]["all"] > 0.9  # the toy classes are separable colours
    assert len(record["protocol"]["split_sha256"]) == 64
    assert record["method"]["params"] == {"n_init": 10, "max_iter": 200, "tol": 1e-4, "seed": 0}  # cpu profile
    assert record["method"]["score_adapter"] == "max_cosine_to_labelled_cluster_centres"
    prov = record["provenance"]
    assert {"git_commit", "git_dirty", "packages", "device", "wall_time_s", "peak_rss_mb"} <= set(prov)
    assert record["seeds"]["split"] == 0 and isinstance(record["seeds"]["training"], int)
    assert record["K"] == {"value": 4, "given": True, "estimated": None}


def test_second_run_starts_nothing(run_dirs, capsys):
    assert _cli(run_dirs, "--methods", "ss-kmeans", "--seeds", "2", *RUN) == 0
    first = {p: p.stat().st_mtime_ns for p in run_dirs[0].glob("*/*/*/record.json")}
    capsys.readouterr()
    assert _cli(run_dirs, "--methods", "ss-kmeans", "--seeds", "2", *RUN) == 0
    out = capsys.readouterr().out
    assert "ran 0, skipped 2 already done" in out
    assert first == {p: p.stat().st_mtime_ns for p in run_dirs[0].glob("*/*/*/record.json")}


def test_dry_run_counts_done_and_pending(run_dirs, capsys):
    assert _cli(run_dirs, "--methods", "ss-kmeans", *RUN) == 0
    capsys.readouterr()
    assert _cli(run_dirs, "--methods", "ss-kmeans", "kmeans", "--dry-run", *RUN) == 0
    out = capsys.readouterr().out
    assert "2 runs: 1 done, 1 pending" in out
    assert len(_records(run_dirs[0])) == 1


def test_changed_parameters_make_a_new_run(run_dirs):
    a = expand(["ss-kmeans"], ["toy-basic"], 1, {})
    b = expand(["ss-kmeans"], ["toy-basic"], 1, {"ss-kmeans": {"n_init": "3"}})
    assert a[0].run_id != b[0].run_id and b[0].params["n_init"] == 3
    assert a[0].run_id.startswith("split0-rep0-")
    assert a[0].training_seed == expand(["ss-kmeans"], ["toy-basic"], 1, {})[0].training_seed


def test_killed_run_resumes_and_keeps_finished_records(run_dirs):
    runs, cache = run_dirs
    script = ("import sys; from tests.toy_plugins import register_toys; register_toys(); "
              "from benchmark.cli import main; sys.exit(main(sys.argv[1:]))")
    args = ["--methods", "toy-ss", "--seeds", "3", "--set", "toy-ss.sleep_s=1.5", *RUN, "--lanes", "1",
            "--runs-dir", str(runs), "--cache-dir", str(cache)]  # one lane: the toys are registered in-process
    proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO_ROOT, env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not list(runs.glob("*/*/*/done")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the second run is now sleeping inside the method
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {p.parent: p.parent.joinpath("record.json").read_bytes() for p in runs.glob("*/*/*/done")}
    started = list(runs.glob("*/*/*/spec.json"))
    assert 1 <= len(done_before) < 3 and len(started) > len(done_before)  # one run was cut off mid-way
    killed = [p.parent for p in started if p.parent not in done_before]
    assert not (killed[0] / "record.json").exists()  # no half-written record
    assert _cli(run_dirs, *args[:-4]) == 0
    assert len(list(runs.glob("*/*/*/done"))) == 3
    for folder, content in done_before.items():
        assert (folder / "record.json").read_bytes() == content  # finished runs untouched


def test_crashing_method_leaves_no_done_marker_and_reports(run_dirs, monkeypatch, capsys):
    from tests.toy_plugins import ToySemiSupervised

    def boom(self, task):
        raise RuntimeError("numerical blow-up")
    monkeypatch.setattr(ToySemiSupervised, "run", boom)
    assert _cli(run_dirs, "--methods", "toy-ss", *RUN) == 1
    assert "FAILED toy-basic/toy-ss" in capsys.readouterr().err
    folder = next(run_dirs[0].glob("toy-basic/toy-ss/*"))
    assert not (folder / "done").exists() and "numerical blow-up" in (folder / "log.txt").read_text()


@pytest.mark.parametrize("args, message", [
    (["--methods", "kmean", "--protocols", "toy-basic"], "unknown method 'kmean'. Did you mean 'kmeans'"),
    (["--methods", "kmeans", "--protocols", "rafdb-basc"], "unknown protocol 'rafdb-basc'. Did you mean"),
    (["--methods", "kmeans", "--protocols", "toy-badclass"], "names class 'epsilon', which dataset 'toy-blobs'"),
    (["--methods", "kmeans", "--protocols", "rafdb-basic"], "needs a data root: pass --data-root DIR"),
    (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "kmeans.n_inits=3"],
     "kmeans has no parameter 'n_inits'. Did you mean n_init"),
    (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "kmeans.n_init=many"], "expected a value of type int"),
    (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "gcd.epochs=3"], "not among the selected methods"),
    (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "n_init"], "expected METHOD.PARAM=VALUE"),
])
def test_user_mistakes_give_one_clear_message(run_dirs, capsys, args, message):
    assert _cli(run_dirs, *args, "--no-leaderboard") == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in err


def test_list_prints_registered_names(capsys):
    assert main(["--list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "kmeans" in out and "ss-kmeans" in out
    assert main(["--list", "protocols"]) == 0
    assert "synthface-basic" in capsys.readouterr().out


def test_atomic_writes_give_files_the_usual_permissions(tmp_path):
    import os
    import stat

    import numpy as np

    from benchmark.core import atomic

    atomic.write_text(tmp_path / "a.txt", "x")
    atomic.save_npy(tmp_path / "b.npy", np.zeros(2))
    umask = os.umask(0)
    os.umask(umask)
    for name in ("a.txt", "b.npy"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
    assert (tmp_path / "a.txt").read_text() == "x" and np.load(tmp_path / "b.npy").tolist() == [0.0, 0.0]


def test_records_name_the_cpu_model_beside_the_thread_count():
    """CPU numbers depend on the CPU model (its kernels' summation order), so records keep it."""
    import torch

    from benchmark.device import describe
    info = describe(torch.device("cpu"))
    assert info["cpu_model"] and info["torch_threads"] >= 1 and info["cpu_capability"]

"""Executors: cluster settings validation, submitit (debug and local clusters), and one worker per device."""
import json
import os
import signal
import time
from dataclasses import dataclass

import pytest
import submitit

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.executors.cluster_config import load_cluster_config
from benchmark.executors.job import RunJob, Settings, feature_stage
from benchmark.executors.local_gpus import run_on_workers
from benchmark.executors.slurm import MARKER, make_executor, submit_sweep
from benchmark.method import Method
from benchmark.plan import RunSpec, expand
from benchmark.core.registry import METHODS, PROTOCOLS
from tests.toy_plugins import ToyParams, ToySemiSupervised, register_toys

RUN = ["--protocols", "toy-basic", "--no-leaderboard"]


def _write(path, text):
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("partiton: gpu\n", "unknown key 'partiton'. Did you mean 'partition'?"),
    ("time_min: 2h\n", "time_min: '2h' is not a whole number of minutes"),
    ("gpus_per_job: true\n", "gpus_per_job: True is not a whole number"),
    ("cluster: pbs\n", "cluster: 'pbs' is not one of slurm, local, debug"),
    ("setup: [1, 2]\n", "every entry must be a shell line"),
    ("- a\n- b\n", "expected a mapping of settings"),
    ("partition: [unclosed\n", "is not valid YAML"),
])
def test_cluster_config_mistakes_name_the_key_and_the_fix(tmp_path, text, message):
    with pytest.raises(GFaceError) as caught:
        load_cluster_config(_write(tmp_path / "c.yaml", text))
    assert message in str(caught.value)


def test_cluster_config_is_read_and_mapped_to_submitit(tmp_path):
    config = load_cluster_config(_write(tmp_path / "c.yaml", "cluster: local\npartition: gpu\ntime_min: 30\n"
                                        "gpus_per_job: 0\nsetup: [echo hi]\nsbatch: {constraint: a100}\n"))
    assert (config.partition, config.time_min, config.setup, config.sbatch) == ("gpu", 30, ("echo hi",),
                                                                                {"constraint": "a100"})
    executor = make_executor(config, Settings(tmp_path / "runs", tmp_path / "cache", None))
    assert executor.cluster == "local" and executor.parameters["timeout_min"] == 30
    assert executor.parameters["setup"][-1] == "echo hi" and "PYTHONPATH" in executor.parameters["setup"][0]
    with pytest.raises(GFaceError, match="no such file"):
        load_cluster_config(tmp_path / "absent.yaml")


def test_submitit_debug_cluster_runs_the_sweep_and_a_second_launch_submits_nothing(run_dirs, tmp_path, capsys):
    config = _write(tmp_path / "debug.yaml", "cluster: debug\n")
    args = ["--methods", "toy-ss", "--seeds", "2", *RUN, "--executor", "submitit", "--cluster-config", str(config),
            "--runs-dir", str(run_dirs[0]), "--cache-dir", str(run_dirs[1])]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "submitted 2 runs" in out and "ran 2, skipped 0 already done, failed 0" in out
    assert len(list(run_dirs[1].glob("features/*.npy"))) == 1  # the shared features: extracted once, first
    markers = [json.loads(p.read_text()) for p in run_dirs[0].glob(f"*/*/*/{MARKER}")]
    assert len(markers) == 2 and {m["cluster"] for m in markers} == {"debug"}
    assert main(args) == 0
    assert "submitted 0 runs, 0 still queued from an earlier launch, 2 done" in capsys.readouterr().out


def test_runs_still_queued_on_slurm_are_not_submitted_again(run_dirs, monkeypatch):
    spec = expand(["toy-ss"], ["toy-basic"], 1, {})[0]
    settings = Settings(run_dirs[0], run_dirs[1], None)
    marker = spec.folder(settings.runs_dir) / MARKER
    marker.parent.mkdir(parents=True)
    marker.write_text(json.dumps({"job_id": "4242_0", "cluster": "slurm", "folder": str(run_dirs[0])}))
    debug = load_cluster_config(_write(run_dirs[0].parent / "d.yaml", "cluster: debug\n"))
    for state, resubmitted in (("RUNNING", 0), ("PENDING", 0), ("TIMEOUT", 1), ("CANCELLED by 7", 1)):
        monkeypatch.setattr(submitit.SlurmJob, "state", property(lambda job, s=state: s))
        submission = submit_sweep([spec], settings, debug)
        assert (len(submission.submitted), len(submission.in_flight)) == (resubmitted, 1 - resubmitted), state


def test_local_workers_extract_shared_features_first_then_run(run_dirs):
    specs = expand(["toy-ss"], ["toy-basic"], 2, {})
    assert feature_stage(specs) == [("toy-pixels", "toy-blobs")]
    settings = Settings(run_dirs[0], run_dirs[1], None, "cpu")
    result = run_on_workers(specs, settings, [{"GFACE_WORKER": "0"}, {"GFACE_WORKER": "1"}], setup=register_toys)
    assert (len(result.ran), len(result.skipped), result.failed) == (2, 0, [])
    assert all((s.folder(run_dirs[0]) / "done").exists() for s in specs)
    again = run_on_workers(specs, settings, [{}], setup=register_toys)
    assert (len(again.ran), len(again.skipped)) == (0, 2)


@dataclass
class _Params:
    pass


class ToyInterruptible(Method):
    """Notes each attempt's pid in the run folder; the first attempt waits to be interrupted, the next finishes."""

    Params = _Params

    def run(self, task):
        attempts = task.work_dir / "attempts.txt"
        first = not attempts.exists()
        with open(attempts, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        if first:
            time.sleep(120)
        return ToySemiSupervised(ToyParams()).run(task)


def register_interruptible() -> None:
    register_toys()
    if "toy-interruptible" not in METHODS:
        METHODS.add("toy-interruptible", ToyInterruptible)


def test_local_cluster_requeues_a_preempted_run_which_then_finishes(run_dirs, tmp_path):
    spec = RunSpec(PROTOCOLS.get("toy-basic"), "toy-interruptible", "cpu", {}, "toy-pixels", 0, 0)
    settings = Settings(run_dirs[0], run_dirs[1], None, "cpu")
    config = load_cluster_config(_write(tmp_path / "local.yaml", "cluster: local\ngpus_per_job: 0\n"))
    job = make_executor(config, settings).submit(RunJob(spec, settings, register_interruptible))
    attempts = spec.folder(settings.runs_dir) / "attempts.txt"
    deadline = time.time() + 40
    while not attempts.exists() and time.time() < deadline:
        time.sleep(0.1)
    os.kill(int(attempts.read_text().split()[0]), signal.SIGUSR2)  # what Slurm sends before a timeout/preemption
    assert job.result() == "done"
    assert len(set(attempts.read_text().split())) == 2  # a second process took the run over
    assert (spec.folder(settings.runs_dir) / "done").exists()
    assert "Caught signal SIGUSR2" in job.stderr()


def test_slurm_submission_is_an_array_after_the_feature_stage(run_dirs, tmp_path, monkeypatch):
    """Fake ``srun``/``sbatch`` on PATH: the batch files submitit would hand to Slurm are kept and read."""
    bin_dir, scripts = tmp_path / "bin", tmp_path / "sbatch"
    bin_dir.mkdir(), scripts.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\nn=$(ls {scripts} | wc -l)\ncp "$1" {scripts}/$((n + 100)).sh\n'
                                    f'echo "Submitted batch job $((n + 100))"\n')
    for tool in ("srun", "sbatch"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = load_cluster_config(_write(tmp_path / "slurm.yaml", "partition: gpu\naccount: lab\narray_parallelism: 1\n"
                                        "setup: [source venv/bin/activate]\n"))
    specs = expand(["toy-ss"], ["toy-basic"], 2, {})
    settings = Settings(run_dirs[0], run_dirs[1], None)
    submission = submit_sweep(specs, settings, config)
    features, runs = (p.read_text() for p in sorted(scripts.glob("*.sh")))
    assert "#SBATCH --partition=gpu" in features and "#SBATCH --account=lab" in features
    assert "#SBATCH --array=0-1%1" in runs and "#SBATCH --dependency=afterok:100" in runs
    assert "#SBATCH --kill-on-invalid-dep=yes" in runs and "source venv/bin/activate" in runs
    assert [job.job_id for _, job in submission.submitted] == ["101_0", "101_1"]
    assert {json.loads((s.folder(run_dirs[0]) / MARKER).read_text())["job_id"] for s in specs} == {"101_0", "101_1"}
    monkeypatch.setattr(submitit.SlurmJob, "state", property(lambda job: "PENDING"))
    again = submit_sweep(specs, settings, config)
    assert (len(again.submitted), len(again.in_flight), len(list(scripts.glob("*.sh")))) == (0, 2, 2)


def test_each_view_bank_is_started_first_and_its_readers_wait_behind_the_runs_without_one():
    from benchmark.executors.order import bank_key, dispatch_order
    from benchmark.plan import expand
    specs = expand(["gcd", "kmeans", "simgcd", "msp"], ["synthface-v4-basic", "synthface-v4-compound"], 1, {})
    order = dispatch_order(specs)
    assert sorted(order, key=specs.index) == specs  # every run once
    keys = [bank_key(s) for s in order]
    assert [k[0] for k in keys[:2]] == ["synthface-v4-basic", "synthface-v4-compound"]  # one builder per bank
    assert all(k is None for k in keys[2:6])  # kmeans and msp on both protocols
    assert all(k is not None for k in keys[6:]) and set(keys[6:]) == set(keys[:2])

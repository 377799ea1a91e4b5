"""``--executor submitit``: the pending runs as one Slurm job array, after a feature-extraction stage.

Stage 1 extracts the frozen features that several runs share (one job per (backbone, dataset)); stage 2 is one
job array of the runs, at most ``array_parallelism`` at once, started by Slurm only after stage 1 succeeded
(``afterok``; with the local and debug clusters stage 1 simply finishes first). Each run folder gets a
``submitted.json`` naming its job; a later launch of the same sweep skips runs that are done and runs whose Slurm
job is still queued or running, so a crashed or closed front node loses nothing. A job that times out or is
preempted is requeued and resumes from its run's last epoch checkpoint.
"""
from __future__ import annotations

import json
import logging
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import submitit
from submitit.helpers import as_completed
from tqdm import tqdm

from benchmark.core import atomic
from benchmark.core.errors import GFaceError
from benchmark.executors.cluster_config import ClusterConfig
from benchmark.executors.job import FeatureJob, RunJob, Settings, feature_stage
from benchmark.core.paths import REPO_ROOT
from benchmark.plan import RunSpec, is_done
from benchmark.plugin_discovery import load_plugins
from benchmark.runner import SweepResult

MARKER = "submitted.json"
LIVE_STATES = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
               "SUSPENDED", "RESIZING"}
log = logging.getLogger("gface")


@dataclass
class Submission:
    submitted: list[tuple[RunSpec, submitit.Job]]  # by this launch
    in_flight: list[tuple[RunSpec, submitit.Job]]  # by an earlier launch, still queued or running
    skipped: list[RunSpec]  # done already


def run_with_submitit(specs: list[RunSpec], settings: Settings, config: ClusterConfig, detach: bool = False,
                      setup: Callable[[], None] = load_plugins) -> SweepResult:
    """Submit the pending runs, then (unless ``detach``) wait for them and report each run's outcome."""
    if detach and config.cluster == "debug":
        raise GFaceError("--detach with cluster: debug would drop the jobs (debug runs them in this process at "
                         "wait time); drop --detach or use cluster: local or slurm")
    submission = submit_sweep(specs, settings, config, setup)
    jobs = submission.in_flight + submission.submitted
    print(f"submitted {len(submission.submitted)} runs, {len(submission.in_flight)} still queued from an earlier "
          f"launch, {len(submission.skipped)} done")
    if detach:
        return SweepResult([], submission.skipped, [], queued=[spec for spec, _ in jobs])
    return wait_for(jobs, settings, submission.skipped, poll_s=30.0 if config.cluster == "slurm" else 0.5)


def submit_sweep(specs: list[RunSpec], settings: Settings, config: ClusterConfig,
                 setup: Callable[[], None] = load_plugins) -> Submission:
    pending = [s for s in specs if not is_done(s, settings.runs_dir)]
    in_flight = [(s, job) for s in pending if (job := live_job(s, settings)) is not None]
    to_submit = [s for s in pending if all(s is not queued for queued, _ in in_flight)]
    submitted: list[tuple[RunSpec, submitit.Job]] = []
    if to_submit:
        executor = make_executor(config, settings)
        pairs = feature_stage(to_submit)
        extraction = executor.submit_array([FeatureJob(b, d, settings, setup) for b, d in pairs]) if pairs else []
        if extraction and config.cluster == "slurm":
            executor.update_parameters(
                slurm_dependency="afterok:" + ":".join(job.job_id for job in extraction),
                slurm_additional_parameters={**config.sbatch, "kill-on-invalid-dep": "yes"})
        for job in extraction if config.cluster != "slurm" else ():
            _result_or_error(job, "feature extraction")
        jobs = executor.submit_array([RunJob(spec, settings, setup) for spec in to_submit])
        for spec, job in zip(to_submit, jobs):
            atomic.write_json(spec.folder(settings.runs_dir) / MARKER, {
                "job_id": job.job_id, "cluster": config.cluster, "folder": str(executor.folder),
                "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        submitted = list(zip(to_submit, jobs))
    return Submission(submitted, in_flight, [s for s in specs if s not in pending])


def live_job(spec: RunSpec, settings: Settings) -> submitit.Job | None:
    """The Slurm job an earlier launch submitted for ``spec``, if Slurm still has it queued or running."""
    marker = spec.folder(settings.runs_dir) / MARKER
    if not marker.exists():
        return None
    info = json.loads(marker.read_text())
    if info.get("cluster") != "slurm":  # local and debug jobs end with the session that made them
        return None
    job = submitit.SlurmJob(folder=info["folder"], job_id=info["job_id"])
    return job if job.state.split(" ")[0].upper() in LIVE_STATES else None


def make_executor(config: ClusterConfig, settings: Settings) -> submitit.AutoExecutor:
    folder = (config.log_dir or settings.runs_dir / ".submitit") / "%j"
    requeues = {} if config.cluster == "debug" else {f"{config.cluster}_max_num_timeout": config.max_requeues}
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=config.cluster, **requeues)
    except RuntimeError as exc:
        raise GFaceError(f"cluster: {config.cluster} in --cluster-config, but submitit cannot use it here ({exc}). "
                         f"Launch from a Slurm login node, or set cluster: local to try the sweep on this machine") \
            from exc
    setup = [f"export PYTHONPATH={shlex.quote(str(REPO_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}", *config.setup]
    executor.update_parameters(
        name="gface", timeout_min=config.time_min, gpus_per_node=config.gpus_per_job,
        cpus_per_task=config.cpus_per_job, mem_gb=config.mem_gb, slurm_partition=config.partition,
        slurm_account=config.account, slurm_qos=config.qos, slurm_setup=setup,
        slurm_array_parallelism=config.array_parallelism, slurm_additional_parameters=dict(config.sbatch) or None,
        local_setup=setup)
    return executor


def wait_for(jobs: list[tuple[RunSpec, submitit.Job]], settings: Settings, skipped: list[RunSpec],
             poll_s: float) -> SweepResult:
    """Wait for every job; a run counts as ran when its record is done, else as failed with the job's error."""
    for _ in tqdm(as_completed([job for _, job in jobs], poll_frequency=poll_s), total=len(jobs), desc="runs",
                  unit="run", disable=not jobs):
        pass
    result = SweepResult([], skipped, [])
    for spec, job in jobs:
        if is_done(spec, settings.runs_dir):
            result.ran.append(spec)
        else:
            result.failed.append((spec, _failure(job)))
            log.error("run %s/%s/%s: %s (see %s)", spec.protocol.id, spec.method, spec.run_id, _failure(job),
                      spec.folder(settings.runs_dir) / "log.txt")
    return result


def _result_or_error(job: submitit.Job, what: str) -> None:
    try:
        job.result()
    except Exception as exc:  # noqa: BLE001 - submitit wraps the job's own error; name the stage and the log
        raise GFaceError(f"{what} job {job.job_id} failed: {_last_line(exc)} (log: {job.paths.stderr})") from exc


def _failure(job: submitit.Job) -> str:
    try:
        error = job.exception()
    except Exception as exc:  # noqa: BLE001 - no result file: cancelled, killed, or never started
        error = exc
    detail = _last_line(error) if error is not None else "finished without a done record"
    return f"job {job.job_id} ({job.state}): {detail}"


def _last_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__

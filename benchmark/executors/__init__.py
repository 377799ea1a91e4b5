"""Where the runs of a sweep execute: in lanes on this machine, one worker per local GPU, or a Slurm job array.

Every executor calls ``benchmark.runner.run_one`` for each pending run; run folders are the only state, so a
second launch of the same sweep starts (or submits) nothing that is done or still queued.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.core.errors import GFaceError

if TYPE_CHECKING:  # the command line imports this module for its help text; the heavy imports wait for a run
    from benchmark.executors.job import Settings
    from benchmark.plan import RunSpec
    from benchmark.runner import Environment, SweepResult

EXECUTORS = {
    "local": "--lanes runs side by side on this machine, each on one CPU thread (default)",
    "local-gpus": "one worker process per visible GPU, runs spread over them",
    "submitit": "a Slurm job array (feature extraction first), settings from --cluster-config",
}


def execute(executor: str, specs: list[RunSpec], settings: Settings, cluster_config: Path | None = None,
            detach: bool = False, env: Environment | None = None, lanes: int = 1) -> SweepResult:
    """Run the pending specs of ``specs`` with the named executor; done runs are skipped. ``env``: the local
    executor reuses it in a single lane (the datasets and backbones the preflight loaded)."""
    if cluster_config is not None and executor != "submitit":
        raise GFaceError(f"--cluster-config is read by --executor submitit only (got --executor {executor})")
    if detach and executor != "submitit":
        raise GFaceError(f"--detach applies to --executor submitit only (got --executor {executor})")
    if lanes != 1 and executor != "local":
        raise GFaceError(f"--lanes applies to --executor local only (got --executor {executor})")
    if executor == "local":
        from benchmark.executors.lanes import one_thread, run_in_lanes
        with one_thread():
            return run_in_lanes(specs, settings, lanes, env or settings.environment())
    if executor == "local-gpus":
        from benchmark.executors.local_gpus import run_on_visible_gpus
        return run_on_visible_gpus(specs, settings)
    if executor == "submitit":
        if cluster_config is None:
            raise GFaceError("--executor submitit needs --cluster-config FILE.yaml (cluster, partition, account, "
                             "time, GPUs, setup lines; see benchmark/executors/cluster_config.py)")
        from benchmark.executors.cluster_config import load_cluster_config
        from benchmark.executors.slurm import run_with_submitit
        return run_with_submitit(specs, settings, load_cluster_config(cluster_config), detach=detach)
    raise GFaceError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")

"""One worker process per visible GPU on this machine: shared features first, then the runs spread over them.

Each worker sees one GPU (``CUDA_VISIBLE_DEVICES``) and an even share of the CPU threads; the standard library's
process pool hands out the runs. A user mistake stops the sweep; other failures are logged in the run folder and
counted, as with the sequential executor.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

import torch
from tqdm import tqdm

from benchmark.core.errors import GFaceError
from benchmark.executors.job import FeatureJob, RunJob, Settings, feature_stage
from benchmark.executors.order import dispatch_order
from benchmark.plan import RunSpec, is_done
from benchmark.output import configure_console, disable_progress_bars
from benchmark.plugin_discovery import load_plugins
from benchmark.progress import SweepProgress
from benchmark.runner import SweepResult

log = logging.getLogger("gface")


def visible_gpus() -> list[str]:
    """CUDA device names as the workers must set them (respecting an existing ``CUDA_VISIBLE_DEVICES``)."""
    inherited = os.environ.get("CUDA_VISIBLE_DEVICES")
    if inherited is not None and inherited.strip():
        return [d.strip() for d in inherited.split(",") if d.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def run_on_visible_gpus(specs: list[RunSpec], settings: Settings) -> SweepResult:
    gpus = visible_gpus()
    if not gpus:
        raise GFaceError("--executor local-gpus: PyTorch sees no GPU here; use --executor local (or submitit)")
    return run_on_workers(specs, settings, [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in gpus])


def run_on_workers(specs: list[RunSpec], settings: Settings, worker_envs: list[dict[str, str]],
                   setup: Callable[[], None] = load_plugins, threads: int | None = None) -> SweepResult:
    """Run the pending specs on ``len(worker_envs)`` spawned workers, worker i with environment ``worker_envs[i]``
    and ``threads`` CPU threads (default: an even share of the cores)."""
    pending = [s for s in specs if not is_done(s, settings.runs_dir)]
    result = SweepResult([], [s for s in specs if s not in pending], [])
    if not pending:
        return result
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for env in worker_envs:
        slots.put(env)
    threads = threads or max(1, (os.cpu_count() or 1) // len(worker_envs))
    with ProcessPoolExecutor(len(worker_envs), mp_context=context, initializer=_claim_slot,
                             initargs=(slots, threads)) as pool:
        extraction = [pool.submit(FeatureJob(b, d, settings, setup)) for b, d in feature_stage(pending)]
        for future in tqdm(as_completed(extraction), total=len(extraction), desc="features", unit="pair",
                           disable=not extraction):
            future.result()
        futures = {pool.submit(RunJob(spec, settings, setup)): spec for spec in dispatch_order(pending)}
        with SweepProgress(len(futures)) as progress:
            for future in as_completed(futures):
                spec = futures[future]
                try:
                    future.result()
                    result.ran.append(spec)
                except GFaceError:
                    pool.shutdown(cancel_futures=True)
                    raise
                except Exception as exc:  # noqa: BLE001 - the worker logged the traceback in the run folder
                    result.failed.append((spec, f"{type(exc).__name__}: {exc}"))
                    log.error("run %s/%s/%s failed: %s (see %s)", spec.protocol.id, spec.method, spec.run_id, exc,
                              spec.folder(settings.runs_dir) / "log.txt")
                progress.advance(f"{spec.protocol.id}/{spec.method}/{spec.run_id}")
    return result


def _claim_slot(slots, threads: int) -> None:
    """Worker start-up: take one environment (GPU) for the worker's lifetime and its share of CPU threads; plain log
    lines on stderr and no progress bars (workers side by side would garble them; the sweep's own bar counts runs)."""
    os.environ.update(slots.get())
    torch.set_num_threads(threads)
    configure_console()
    disable_progress_bars()

"""The local executor: runs side by side in lanes, each on one CPU thread, so a run's numbers do not depend on the
machine's core count.

A run's CPU numbers depend on how many threads sum its reductions (PyTorch, BLAS and OpenMP split them by thread
count), so every local run is pinned to one thread and the cores are used by running ``lanes`` runs at once, each in
a worker process (``local_gpus.run_on_workers``, shared features first). ``--lanes 1`` runs them one after another
in this process, still on one thread. Shared caches are built once, under a lock (``core.atomic.built_once``).
"""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from benchmark.executors.job import Settings
    from benchmark.plan import RunSpec
    from benchmark.runner import Environment, SweepResult

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # read when a library loads


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_lanes(device_type: str) -> int:
    """One lane per usable core on the CPU; one on a GPU (several GPUs: ``--executor local-gpus``)."""
    return usable_cores() if device_type == "cpu" else 1


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Within: one thread for PyTorch, for the BLAS and OpenMP libraries already loaded, and (through the thread
    variables) for libraries loaded later and processes started meanwhile; the previous settings come back after."""
    import torch
    from threadpoolctl import threadpool_limits

    saved_env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    saved_threads = torch.get_num_threads()
    os.environ.update({name: "1" for name in THREAD_VARIABLES})
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(saved_threads)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_in_lanes(specs: list[RunSpec], settings: Settings, lanes: int, env: Environment,
                 setup: Callable[[], None] | None = None) -> SweepResult:
    """The pending specs, ``lanes`` at a time; call within ``one_thread()``. One lane: in this process, reusing
    ``env`` (the datasets and backbones the preflight loaded); more: each worker first calls ``setup`` (default:
    ``load_plugins``; tests register their toy plugins)."""
    if lanes == 1:
        from benchmark.runner import run_sweep
        return run_sweep(specs, env)
    from benchmark.executors.local_gpus import run_on_workers
    from benchmark.plugin_discovery import load_plugins
    return run_on_workers(specs, settings, [{}] * lanes, setup or load_plugins, threads=1)

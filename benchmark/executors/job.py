"""Self-contained units of work for worker processes and cluster jobs: one run, or one feature extraction.

A job carries plain settings (paths, device name) and rebuilds its environment in the process that runs it.
``setup`` registers the plugins there (tests pass their own, which also registers toy plugins). A run job is
``submitit``-checkpointable: on a timeout or preemption it is requeued as is, and the run resumes from the last
epoch checkpoint in its folder (the shared trainer writes one per epoch).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from submitit.helpers import Checkpointable

from benchmark.device import resolve_device
from benchmark.features import cached_features
from benchmark.plan import RunSpec, is_done
from benchmark.plugin_discovery import load_plugins
from benchmark.runner import Environment, run_one


@dataclass(frozen=True)
class Settings:
    """What a process needs to rebuild an ``Environment``; paths absolute so any working directory will do."""

    runs_dir: Path
    cache_dir: Path
    data_root: Path | None
    device: str = "auto"
    keep_checkpoints: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs_dir", Path(self.runs_dir).expanduser().resolve())
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser().resolve())
        if self.data_root is not None:
            object.__setattr__(self, "data_root", Path(self.data_root).expanduser().resolve())

    def environment(self) -> Environment:
        return Environment(self.runs_dir, self.cache_dir, self.data_root, resolve_device(self.device),
                           self.keep_checkpoints)


def _prepare(setup: Callable[[], None]) -> None:
    logging.getLogger("gface").setLevel(logging.INFO)
    setup()


@dataclass
class RunJob(Checkpointable):
    """Run one spec unless its record is already done; returns ``"done"`` or ``"already done"``."""

    spec: RunSpec
    settings: Settings
    setup: Callable[[], None] = load_plugins

    def __call__(self) -> str:
        _prepare(self.setup)
        if is_done(self.spec, self.settings.runs_dir):
            return "already done"
        run_one(self.spec, self.settings.environment())
        return "done"


@dataclass
class FeatureJob:
    """Extract and cache the frozen features of one (backbone, dataset) pair (a no-op when cached)."""

    backbone: str
    dataset: str
    settings: Settings
    setup: Callable[[], None] = load_plugins

    def __call__(self) -> str:
        _prepare(self.setup)
        env = self.settings.environment()
        features = cached_features(env.backbone(self.backbone), env.dataset(self.dataset), env.cache_dir,
                                   env.device)
        return f"{self.backbone} on {self.dataset}: {features.shape[0]} x {features.shape[1]}"


def feature_stage(specs: list[RunSpec]) -> list[tuple[str, str]]:
    """(backbone, dataset) pairs that two or more of ``specs`` share: extracted once, before those runs start."""
    counts: dict[tuple[str, str], int] = {}
    for spec in specs:
        key = (spec.backbone, spec.protocol.dataset)
        counts[key] = counts.get(key, 0) + 1
    return [key for key, count in counts.items() if count > 1]

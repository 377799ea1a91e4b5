"""The order in which workers start the runs of a sweep: shared view banks are built early, and no worker waits.

A view bank (benchmark/training/view_bank.py) is built by the first run that needs it while every other run that
needs the same bank waits on its lock. So each bank's first run starts first (banks of different protocols are
built side by side), then the runs that need no bank keep the other workers busy, and the runs that read a built
bank come last. Within each group the plan's order is kept. The order changes no result: a run's numbers depend on
its spec only.
"""
from __future__ import annotations

from benchmark.plan import RunSpec


def bank_key(spec: RunSpec) -> tuple | None:
    """What decides which bank a run reads (runs with equal keys share one), or None for a run without a bank."""
    views = spec.params.get("view_bank", 0)
    if not views:
        return None
    return spec.protocol.id, spec.split_seed, spec.backbone, views, spec.params.get("crop_pct")


def dispatch_order(specs: list[RunSpec]) -> list[RunSpec]:
    builders, without_bank, readers, seen = [], [], [], set()
    for spec in specs:
        key = bank_key(spec)
        if key is None:
            without_bank.append(spec)
        elif key in seen:
            readers.append(spec)
        else:
            seen.add(key)
            builders.append(spec)
    return builders + without_bank + readers

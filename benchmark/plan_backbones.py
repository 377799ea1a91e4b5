"""``--backbones``: the same runs on each of several backbones (the backbone is part of each run's id)."""
from __future__ import annotations

import dataclasses

from benchmark.plan import RunSpec
from benchmark.core.registry import BACKBONES


def with_backbones(specs: list[RunSpec], patterns: list[str] | None) -> list[RunSpec]:
    """Each spec once per selected backbone (names or globs); ``None`` keeps each protocol's own backbone."""
    if not patterns:
        return specs
    backbones = BACKBONES.select(patterns)
    return [dataclasses.replace(spec, backbone=backbone) for spec in specs for backbone in backbones]

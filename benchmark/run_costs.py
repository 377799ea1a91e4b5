"""What a sweep will cost, per backbone, from measured runs only: ``--dry-run`` and ``reproduce --list``.

A run's cost is the median ``provenance.wall_time_s`` of the finished records under the runs folder with the same
method, backbone and training data (a cross-dataset protocol trains on its training dataset, so it costs what that
dataset's protocol costs; the test split is a few thousand images predicted once). Records made on a GPU give
GPU-hours, records made on a CPU CPU-hours; runs with no such record are counted as not measured, never guessed.
The suite ships no GPU measurement (benchmark/speed/README.md: the GPU rows are not measured), so the first runs of
a sweep on a GPU are its measurement: run one seed, then ``--dry-run`` estimates the rest.
"""
from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

from benchmark.plan import RunSpec

COST_KEY_FIELDS = ("method", "backbone", "data", "device")


def training_data(dataset: str) -> str:
    from datasets.cross_dataset import cross_dataset_parts
    parts = cross_dataset_parts(dataset)
    return parts[0] if parts else dataset


def measured_costs(runs_dir: Path) -> dict[tuple[str, str, str], dict[str, float]]:
    """(method, backbone, training data) -> {device type: median wall seconds} over the finished records."""
    times: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for done in Path(runs_dir).glob("*/*/*/done"):
        try:
            record = json.loads((done.parent / "record.json").read_text())
            key = (record["method"]["name"], record["backbone"]["name"], training_data(record["protocol"]["dataset"]))
            device = str(record["provenance"].get("device") or "cpu").split(":")[0]
            times[key][device].append(float(record["provenance"]["wall_time_s"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # an unreadable record measures nothing; the leaderboard names it
    return {key: {device: statistics.median(values) for device, values in per_device.items()}
            for key, per_device in times.items()}


def cost_by_backbone(specs: list[RunSpec], runs_dir: Path) -> list[list]:
    """Rows (backbone, runs, runs measured on a GPU, their GPU-hours, runs measured on a CPU only, their CPU-hours)."""
    costs = measured_costs(runs_dir)
    rows: dict[str, list] = {}
    for spec in specs:
        row = rows.setdefault(spec.backbone, [spec.backbone, 0, 0, 0.0, 0, 0.0])
        row[1] += 1
        measured = costs.get((spec.method, spec.backbone, training_data(spec.protocol.dataset)), {})
        if "cuda" in measured:
            row[2], row[3] = row[2] + 1, row[3] + measured["cuda"] / 3600
        elif measured:
            row[4], row[5] = row[4] + 1, row[5] + min(measured.values()) / 3600
    return list(rows.values())


def _hours(count: int, hours: float) -> str:
    return f"{hours:.2f} ({count} runs)" if count else "not measured"


def cost_table(specs: list[RunSpec], runs_dir: Path) -> str:
    """Per backbone: runs, how many have a measured cost, and the hours they sum to, per device type."""
    from tabulate import tabulate
    rows = [[b, n, f"{g + c} of {n}", _hours(g, gh), _hours(c, ch)] for b, n, g, gh, c, ch in
            cost_by_backbone(specs, runs_dir)]
    return tabulate(rows, ["backbone", "runs", "cost measured", "GPU-hours", "CPU-hours"], tablefmt="simple",
                    disable_numparse=True)


def cost_summary(specs: list[RunSpec], runs_dir: Path) -> str:
    """One line: runs, and the hours of the measured ones (the rest: not measured)."""
    rows = cost_by_backbone(specs, runs_dir)
    runs, gpu_runs, cpu_runs = sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[4] for r in rows)
    if not gpu_runs + cpu_runs:
        return f"{runs} runs; cost not measured (no finished record of these methods, backbones and data)"
    parts = [f"{sum(r[3] for r in rows):.2f} GPU-hours ({gpu_runs} runs)" if gpu_runs else "",
             f"{sum(r[5] for r in rows):.2f} CPU-hours ({cpu_runs} runs)" if cpu_runs else "",
             f"{runs - gpu_runs - cpu_runs} not measured" if runs > gpu_runs + cpu_runs else ""]
    return f"{runs} runs: " + "; ".join(p for p in parts if p)

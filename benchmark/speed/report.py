"""What every speed script prints: the machine it ran on, then a Markdown table (optionally also JSON)."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from tabulate import tabulate

from benchmark.core import atomic
from benchmark.device import describe
from benchmark.provenance import git_state, package_versions


def machine(device: torch.device) -> dict:
    """Device, CPU, threads and package versions, for the table's header line and the JSON output."""
    versions = package_versions()
    return {**describe(device), "cpu_count": os.cpu_count(), "git_commit": git_state()["git_commit"],
            **{k: versions[k] for k in ("python", "torch", "numpy", "faiss-cpu", "faiss-gpu") if k in versions}}


def publish(title: str, rows: list[dict], device: torch.device, json_path: Path | None, notes: list[str] = ()) -> str:
    """Print (and return) a Markdown table of ``rows``; write them with the machine facts to ``json_path``."""
    facts = machine(device)
    text = "\n".join([f"### {title}", "", tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4g"), "",
                      *[f"- {note}" for note in notes],
                      "- machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()), ""])
    print(text)
    if json_path is not None:
        atomic.write_json(json_path, {"title": title, "rows": rows, "notes": list(notes), "machine": facts})
    return text


@contextmanager
def stopwatch(device: torch.device):
    """``with stopwatch(device) as t: ...`` then ``t()`` is the elapsed seconds (GPU work synchronised)."""
    result = {}
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    try:
        yield lambda: result["seconds"]
    finally:
        sync()
        result["seconds"] = time.perf_counter() - start

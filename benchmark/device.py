"""Device choice and a description of it for run records."""
from __future__ import annotations

import platform

import torch

from benchmark.core.errors import GFaceError


def resolve_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise GFaceError(f"--device {requested} asked for, but PyTorch sees no CUDA GPU; use --device cpu or auto")
    try:
        return torch.device(requested)
    except RuntimeError as exc:
        raise GFaceError(f"--device {requested!r} is not a device name (try auto, cpu, cuda, cuda:1)") from exc


def describe(device: torch.device) -> dict:
    """Where a run ran. CPU numbers depend on the thread count and on the CPU model: its vector instructions and
    cache sizes select the kernels (and their summation order) of PyTorch, oneDNN and MKL."""
    info = {"device": str(device), "cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def cpu_model() -> str:
    """The CPU's model name, family, model and stepping as Linux reports them (``/proc/cpuinfo``); else the platform's
    processor string."""
    try:
        with open("/proc/cpuinfo") as stream:
            fields = dict(line.split(":", 1) for line in stream.read().split("\n\n")[0].splitlines() if ":" in line)
    except OSError:
        return platform.processor()
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}, "
            f"stepping {fields.get('stepping', '?')})")

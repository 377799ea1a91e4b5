"""Facts about the code and machine that produced a run record."""
from __future__ import annotations

import importlib.metadata
import platform
import resource
import subprocess
import sys

from benchmark.core.paths import REPO_ROOT

PACKAGES = ("torch", "torchvision", "timm", "faiss-cpu", "faiss-gpu", "numpy", "scipy", "scikit-learn", "pandas")


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    try:
        return {"git_commit": git("rev-parse", "HEAD").strip(), "git_dirty": bool(git("status", "--porcelain").strip())}
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": None, "git_dirty": None}


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

"""Default locations: the repository root, the cache (``$GFACE_CACHE_DIR``) and the run records."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS_DIR = REPO_ROOT / "protocols"
LEADERBOARD_DIR = REPO_ROOT / "leaderboard"
DEFAULT_RUNS_DIR = REPO_ROOT / "runs"
CHECKPOINT = "checkpoint.pt"  # a training run's resumable state, in its run folder (deleted once the run is done)


def default_cache_dir() -> Path:
    return Path(os.environ.get("GFACE_CACHE_DIR", REPO_ROOT / ".cache")).expanduser()

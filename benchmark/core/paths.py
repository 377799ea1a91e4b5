"""Default locations: the repository root, the cache (``$GFACE_CACHE_DIR``) and the run records.

In a source checkout runs and caches default to ``runs/`` and ``.cache/`` inside it (both git-ignored); an installed
package (``pip install .``) has no checkout, so they default to the working directory instead.
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
IS_CHECKOUT = (REPO_ROOT / "run_benchmark.py").is_file()
PROTOCOLS_DIR = REPO_ROOT / "protocols"
LEADERBOARD_DIR = REPO_ROOT / "leaderboard"
WORK_ROOT = REPO_ROOT if IS_CHECKOUT else Path(".")
DEFAULT_RUNS_DIR = WORK_ROOT / "runs"
COMMAND = "python run_benchmark.py" if IS_CHECKOUT else "gface-bench"  # how messages name the entry point
LOCAL_LEADERBOARD = "leaderboard"  # the local tables' folder inside the runs folder
PREDICTIONS = "predictions.npz"  # a finished run's cluster ids and knownness per evaluation set, split order
CHECKPOINT = "checkpoint.pt"  # a training run's resumable state, in its run folder (deleted once the run is done)


def default_cache_dir() -> Path:
    return Path(os.environ.get("GFACE_CACHE_DIR", WORK_ROOT / ".cache")).expanduser()

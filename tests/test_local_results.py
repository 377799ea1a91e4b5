"""A sweep writes only below its runs folder: the committed leaderboard and README change only with --publish."""
import hashlib
import subprocess

import pytest

from benchmark.cli import main
from benchmark.core.paths import REPO_ROOT


def _tracked_files() -> dict[str, str]:
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return {name: hashlib.sha256((REPO_ROOT / name).read_bytes()).hexdigest()
            for name in names.decode().split("\0") if name and (REPO_ROOT / name).is_file()}


def test_sweep_leaves_tracked_files_alone_and_prints_a_short_summary(run_dirs, capsys):
    runs, cache = run_dirs
    before = _tracked_files()
    assert main(["--methods", "ss-kmeans", "kmeans", "--protocols", "toy-basic", "--runs-dir", str(runs),
                 "--cache-dir", str(cache)]) == 0
    assert _tracked_files() == before
    local = runs / "leaderboard"
    assert {"results", "LEADERBOARD.md", "leaderboard.png"} <= {p.name for p in local.iterdir()}
    assert "| SS-k-means" in (local / "LEADERBOARD.md").read_text()
    out = capsys.readouterr().out
    assert f"leaderboard of 2 runs: {local / 'LEADERBOARD.md'}" in out
    assert "| SS-k-means" not in out  # the summary names the table instead of printing it


def test_leaderboard_output_dir_is_honoured(run_dirs, tmp_path):
    runs, cache = run_dirs
    assert main(["--methods", "kmeans", "--protocols", "toy-basic", "--runs-dir", str(runs), "--cache-dir",
                 str(cache), "--no-leaderboard"]) == 0
    before = _tracked_files()
    assert main(["leaderboard", "--rebuild", "--runs-dir", str(runs), "--output-dir", str(tmp_path / "out")]) == 0
    assert _tracked_files() == before
    assert (tmp_path / "out" / "LEADERBOARD.md").exists() and not (runs / "leaderboard").exists()

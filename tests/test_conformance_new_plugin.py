"""A method file dropped into ``methods/`` is collected and run by the conformance tests with no other edit."""
import shutil
import subprocess
import sys

from benchmark.core.paths import REPO_ROOT

PLUGIN = '''
from dataclasses import dataclass

import numpy as np

from benchmark.core.registry import METHODS
from benchmark.method import Method, Predictions


@dataclass
class ProbeParams:
    n_groups: int = 2


@METHODS.register("probe-method")
class ProbeMethod(Method):
    Params = ProbeParams
    profiles = {"smoke": {"n_groups": 2}}
    summary = "a temporary plugin of the conformance test"

    def run(self, task) -> Predictions:
        return Predictions({s: np.arange(len(task.indices(s))) % self.params.n_groups for s in task.prediction_sets})
'''


def test_a_new_method_file_is_collected_and_run_by_the_conformance_tests(tmp_path):
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", ".cache", "runs", ".venv", ".git", "leaderboard")
    for part in ("benchmark", "datasets", "methods", "protocols", "tests"):
        shutil.copytree(REPO_ROOT / part, copy / part, ignore=ignore)
    (copy / "methods" / "probe_method.py").write_text(PLUGIN)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "probe-method", "-rA",
         "tests/test_conformance.py"], cwd=copy, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED") and "probe-method" in line]
    assert len(passed) == 6, result.stdout[-3000:]  # smoke profile, three toy protocols, knownness, determinism

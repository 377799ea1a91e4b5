import pytest

from tests.toy_plugins import register_toys


@pytest.fixture(scope="session", autouse=True)
def _toys():
    register_toys()


@pytest.fixture
def run_dirs(tmp_path, monkeypatch):
    """Isolated runs and cache folders; no data root from the environment."""
    monkeypatch.delenv("GFACE_DATA_ROOT", raising=False)
    monkeypatch.setenv("GFACE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "runs", tmp_path / "cache"


@pytest.fixture(autouse=True)
def _one_lane(monkeypatch):
    """The toy plugins are registered in this process only, so sweeps started through ``main`` run here: one lane
    unless a test passes ``--lanes``."""
    from benchmark.executors import lanes
    monkeypatch.setattr(lanes, "usable_cores", lambda: 1)

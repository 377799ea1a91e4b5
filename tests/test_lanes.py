"""The local executor's lanes: one CPU thread per run, so 1 lane and 2 lanes give bit-identical run folders."""
import json
import os

import torch

from benchmark.core import atomic
from benchmark.executors.job import Settings
from benchmark.executors.lanes import one_thread, run_in_lanes
from benchmark.method import parse_overrides
from benchmark.plan import expand
from benchmark.preflight import preflight
from tests.toy_plugins import register_toys

TINY_SIMGCD = ["epochs=2", "batch_size=16", "proj_hidden_dim=32", "teacher_warmup_epochs=1", "view_bank=4"]


def _sweep(runs, cache, lanes):
    """Two seeds of a learner that shares a view bank, and of a clustering method: 4 runs."""
    overrides = parse_overrides([f"simgcd.{item}" for item in TINY_SIMGCD])
    settings = Settings(runs, cache, None, "cpu")
    env = settings.environment()
    specs = preflight(expand(["simgcd", "toy-ss"], ["toy-cnn"], 2, overrides), env)
    with one_thread():
        assert torch.get_num_threads() == 1
        result = run_in_lanes(specs, settings, lanes, env, setup=register_toys)
    assert (len(result.ran), result.failed) == (4, [])
    return specs


TIMINGS = {"seconds", "images_per_second"}  # the trainer's wall-clock measurements, in ``info.train``


def _folders(runs):
    """Run id -> (record without its timings and host details, predictions bytes)."""
    out = {}
    for record_path in sorted(runs.glob("*/*/*/record.json")):
        record = json.loads(record_path.read_text())
        provenance = record.pop("provenance")
        assert provenance["torch_threads"] == 1
        train = record["info"].get("train", {})
        for key in TIMINGS & train.keys():
            del train[key]
        out[record["run_id"]] = (record, (record_path.parent / "predictions.npz").read_bytes())
    return out


def test_one_lane_and_two_lanes_give_bit_identical_records(tmp_path):
    _sweep(tmp_path / "runs1", tmp_path / "cache1", lanes=1)
    specs = _sweep(tmp_path / "runs2", tmp_path / "cache2", lanes=2)
    one, two = _folders(tmp_path / "runs1"), _folders(tmp_path / "runs2")
    assert sorted(one) == sorted(two) == sorted(s.run_id for s in specs)
    for run_id in one:
        assert one[run_id][0] == two[run_id][0], run_id  # every metric, seed and identity field
        assert one[run_id][1] == two[run_id][1], run_id  # the predictions, byte for byte
    assert len(list((tmp_path / "cache2" / "view-banks").glob("*.npy"))) == 1  # shared by both seeds, built once


def test_one_thread_restores_the_previous_settings(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    with one_thread():
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    assert torch.get_num_threads() == before and "OMP_NUM_THREADS" not in os.environ


def test_a_shared_cache_file_is_built_once(tmp_path):
    built = []
    target = tmp_path / "bank.npy"
    for _ in range(2):
        atomic.built_once(target, lambda path: (built.append(path), atomic.write_text(path, "x")))
    assert built == [target] and target.read_text() == "x"


def test_lanes_need_the_local_executor(run_dirs, capsys):
    from benchmark.cli import main
    runs, cache = run_dirs
    assert main(["--methods", "toy-ss", "--protocols", "toy-basic", "--lanes", "2", "--executor", "local-gpus",
                 "--runs-dir", str(runs), "--cache-dir", str(cache)]) == 2
    assert "--lanes applies to --executor local only" in capsys.readouterr().err

"""The collapse flag: read on the protocol's scored set (D_U on GCD protocols, the Open-Set-FER pool on open-set
ones), refused when an older record read it on D_U of an open-set protocol, and recomputed from saved predictions."""
import json

import numpy as np
import pytest

from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.core.registry import PROTOCOLS
from benchmark.reporting.collect import collect_records
from benchmark.scoring import collapse
from benchmark.splits import materialise
from benchmark.tools import reflag_collapse
from tests.toy_plugins import toy_data


def _split(protocol_id):
    return materialise(PROTOCOLS.get(protocol_id), toy_data(), 0)


def test_open_set_flag_reads_the_pool_not_the_one_class_unlabelled_set():
    split = _split("toy-open-delta")
    n_known = split.protocol.n_known
    test_clusters = split.test_y.copy()  # a perfect closed-set prediction of the test images
    kept_together = {"unlabelled_train": np.full(len(split.unlabelled_y), n_known), "test": test_clusters}
    flag = collapse(kept_together, {"osfer_pool": {"old": 1.0}}, split)
    # D_U is the open class alone: one cluster holds all of it, yet the pool is spread over every class
    assert flag["eval_set"] == "osfer_pool" and not flag["collapsed"]
    pool = len(split.test_y) + int((split.unlabelled_y >= n_known).sum())
    assert flag["largest_cluster_share"] == pytest.approx(max(np.bincount(split.labels("osfer_pool"))) / pool,
                                                          abs=1e-6)
    everything_one_class = {"unlabelled_train": np.zeros(len(split.unlabelled_y), int),
                            "test": np.zeros(len(split.test_y), int)}
    assert collapse(everything_one_class, {"osfer_pool": {"old": 0.3}}, split) == {
        "eval_set": "osfer_pool", "largest_cluster_share": 1.0, "collapsed": True}
    assert collapse(kept_together, {"osfer_pool": {"old": 0.0}}, split)["collapsed"]  # Old accuracy 0


def test_gcd_flag_reads_the_unlabelled_set():
    split = _split("toy-basic")
    n = len(split.unlabelled_y)
    one = {"unlabelled_train": np.r_[np.zeros(n - 2, int), [1, 2]], "test": split.test_y}
    flag = collapse(one, {"unlabelled_train": {"old": 0.5}}, split)
    assert flag == {"eval_set": "unlabelled_train", "largest_cluster_share": round((n - 2) / n, 6),
                    "collapsed": (n - 2) / n >= 0.9}
    assert not collapse({"unlabelled_train": split.unlabelled_y, "test": split.test_y},
                        {"unlabelled_train": {"old": 1.0}}, split)["collapsed"]


def test_older_open_set_records_are_refused_then_recomputed_from_their_predictions(run_dirs, capsys):
    runs, cache = run_dirs
    for protocol in ("toy-open-delta", "toy-basic"):
        assert main(["--methods", "kmeans", "--protocols", protocol, "--no-leaderboard", "--runs-dir", str(runs),
                     "--cache-dir", str(cache)]) == 0
    paths = sorted(runs.glob("*/kmeans/*/record.json"))
    written = {p: json.loads(p.read_text()) for p in paths}
    assert all(r["schema"] == 3 for r in written.values())
    for path, record in written.items():  # as schema 2 wrote them: the flag read on D_U
        old = {"largest_cluster_share": 1.0, "collapsed": True}
        path.write_text(json.dumps({**record, "schema": 2, "collapse": old}))
    with pytest.raises(GFaceError, match="reflag_collapse"):
        collect_records(runs)
    assert reflag_collapse.main(["--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0
    assert "2 records recomputed" in capsys.readouterr().out
    for path, record in written.items():
        again = json.loads(path.read_text())
        assert again["schema"] == 3 and again["results"] == record["results"]
        assert again["collapse"] == {**record["collapse"], "before_schema_3": {"largest_cluster_share": 1.0,
                                                                               "collapsed": True}}
    assert len(collect_records(runs))  # readable again
    assert reflag_collapse.main(["--runs-dir", str(runs), "--cache-dir", str(cache)]) == 0  # nothing left to do
    assert "0 records recomputed" in capsys.readouterr().out

"""The diagnostics of finished runs (``cluster_factors.py``) from their saved ``predictions.npz``, no retraining:
for every run under a runs folder whose dataset has an attribute source (``ATTRIBUTES``), its split is built again
(and checked against the record's split hash), and its D_U cluster ids are set against the per-image attributes.
Runs of other datasets, or without saved D_U predictions, get none."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.cluster_factors import factor_rows
from benchmark.core.attributes import SampleAttributes
from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.core.paths import PREDICTIONS
from benchmark.core.registry import ATTRIBUTES, DATASETS, PROTOCOLS
from benchmark.core.text_files import read_text
from benchmark.reporting.factor_store import DIAGNOSTIC_COLUMNS, empty_diagnostics
from benchmark.splits import Split, materialise

log = logging.getLogger("gface")
UNLABELLED = "unlabelled_train"


def collect_diagnostics(runs_dir: Path, cache_dir: Path, data_root: Path | None) -> pd.DataFrame:
    """A row per run, factor and metric (``DIAGNOSTIC_COLUMNS``) for the finished runs under ``runs_dir``."""
    from benchmark.plugin_discovery import load_plugins
    load_plugins()
    loaded: dict = {}
    rows = []
    for done in sorted(Path(runs_dir).glob("*/*/*/done")):
        folder = done.parent
        record = json.loads(read_text(folder / "record.json", f"delete {folder} to run it again"))
        protocol_id, dataset = record["protocol"]["id"], record["protocol"]["dataset"]
        if dataset not in ATTRIBUTES or protocol_id not in PROTOCOLS or not (folder / PREDICTIONS).is_file():
            continue
        with np.load(folder / PREDICTIONS, allow_pickle=False) as saved:
            if f"clusters_{UNLABELLED}" not in saved:
                continue
            clusters = saved[f"clusters_{UNLABELLED}"]
        split, data, attributes = _split_and_attributes(loaded, PROTOCOLS.get(protocol_id), record["seeds"]["split"],
                                                  cache_dir, data_root)
        if split.sha256 != record["protocol"]["split_sha256"]:
            raise GFaceError(f"run {folder} was made on another split of {dataset!r} than the data gives now (split "
                             f"hash {record['protocol']['split_sha256'][:12]}… vs {split.sha256[:12]}…); delete "
                             f"the stale run folder and run it again")
        if len(clusters) != len(split.unlabelled_idx):
            raise GFaceError(f"{folder / PREDICTIONS} holds {len(clusters)} D_U cluster ids for "
                             f"{len(split.unlabelled_idx)} D_U images; delete {folder} to run it again")
        key = {"protocol": protocol_id, "method": record["method"]["name"], "run_id": record["run_id"]}
        rows += [{**key, **row} for row in unlabelled_rows(clusters, split, data, attributes)]
    return pd.DataFrame(rows, columns=DIAGNOSTIC_COLUMNS) if rows else empty_diagnostics()


def unlabelled_rows(clusters: np.ndarray, split: Split, data: FERData, attributes: SampleAttributes) -> list[dict]:
    """``factor_rows`` of D_U with the attributes of its images; a true class outside the protocol counts as a
    class of its own."""
    rows = split.unlabelled_idx
    true = None
    if attributes.true_labels is not None:
        to_protocol = np.arange(len(data.class_names)) + len(split.protocol.class_names)
        for index, name in enumerate(split.protocol.class_names):
            to_protocol[data.class_index(name)] = index
        true = to_protocol[np.asarray(attributes.true_labels)[rows]]
    intensity = None if attributes.intensity is None else np.asarray(attributes.intensity)[rows]
    return factor_rows(clusters, split.unlabelled_y, {k: np.asarray(v)[rows] for k, v in attributes.factors.items()},
                       true, intensity)


def _split_and_attributes(loaded: dict, protocol, split_seed: int, cache_dir: Path, data_root: Path | None):
    """(split, data, attributes) of a protocol and split seed, each dataset loaded once."""
    if protocol.dataset not in loaded:
        data = DATASETS.get(protocol.dataset)(data_root, cache_dir)
        attributes = ATTRIBUTES.get(protocol.dataset)(data_root, cache_dir, data)
        attributes.check(data)
        loaded[protocol.dataset] = (data, attributes)
    data, attributes = loaded[protocol.dataset]
    key = (protocol.id, split_seed)
    if key not in loaded:
        loaded[key] = materialise(protocol, data, split_seed, attributes)
    return loaded[key], data, attributes

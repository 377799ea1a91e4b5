"""Run records -> one long-format table (a row per run, evaluation set and metric), which
``store.py`` keeps in ``leaderboard/results/``."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from benchmark.core.errors import GFaceError
from benchmark.core.text_files import read_text

METRICS = ("all", "old", "new", "all_v1", "old_v1", "new_v1", "all_balanced", "old_balanced", "new_balanced",
           "auroc", "fpr_at_tpr95", "closed_accuracy", "closed_mca", "auroc_reference", "fpr_at_tpr95_reference")
COLUMNS = ("protocol", "protocol_version", "dataset", "open_class", "family", "model_selection", "method", "params",
           "hparam_draw", "ablation", "backbone", "scorer", "eval_set", "split_seed", "repetition", "run_id",
           "split_sha256", "versions", "method_version", "collapsed", "n_classes", "k_given", "k_estimated",
           "score_adapter", "metric", "value")
READABLE_SCHEMAS = (1, 2, 3)  # record schema versions this code reads (benchmark/runner.py writes RECORD_SCHEMA)


def collect_records(runs_dir: Path) -> pd.DataFrame:
    """Every finished run (a ``done`` marker next to ``record.json``) under ``runs_dir``, in long format."""
    rows = []
    for done in sorted(Path(runs_dir).glob("*/*/*/done")):
        path = done.parent / "record.json"
        fix = f"delete {done.parent} to run it again"
        try:
            record = json.loads(read_text(path, fix))
        except (OSError, json.JSONDecodeError) as exc:
            raise GFaceError(f"run record {path} is unreadable ({exc}); {fix}") from exc
        schema = record.get("schema") if isinstance(record, dict) else None
        if schema not in READABLE_SCHEMAS:
            raise GFaceError(f"run record {path} has schema {schema!r}, which this version reads not "
                             f"(readable: {list(READABLE_SCHEMAS)}); {fix}")
        if schema == 2 and (record.get("protocol") or {}).get("open_class"):  # schema 1 carries no flag
            raise GFaceError(f"run record {path} (schema {schema}) flags collapse on D_U, which on a "
                             f"leave-one-class-out protocol holds the open class alone; recompute the flag on the "
                             f"Open-Set-FER pool from the saved predictions with `python -m "
                             f"benchmark.tools.reflag_collapse --runs-dir {runs_dir}`")
        try:
            rows += record_rows(record)
        except (KeyError, TypeError, AttributeError) as exc:
            raise GFaceError(f"run record {path} lacks a field or has one of the wrong type ({exc!r}); {fix}") \
                from exc
    return pd.DataFrame(rows, columns=list(COLUMNS))


def record_rows(record: dict) -> list[dict]:
    base = {"protocol": record["protocol"]["id"], "protocol_version": record["protocol"]["version"],
            "dataset": record["protocol"]["dataset"], "open_class": record["protocol"].get("open_class") or "",
            "family": record["protocol"].get("family") or "",
            "model_selection": record["method"].get("model_selection") or "last_epoch",
            "method": record["method"]["name"],
            "params": json.dumps(record["method"]["params"], sort_keys=True),
            "hparam_draw": int(record["method"].get("hparam_draw") or 0),
            "ablation": record["method"].get("ablation") or "", "backbone": record["backbone"]["name"],
            "scorer": record["scorer"], "split_seed": record["seeds"]["split"],
            "repetition": record["seeds"]["repetition"], "run_id": record["run_id"],
            "split_sha256": record["protocol"]["split_sha256"], "versions": versions_key(record.get("identity")),
            "method_version": str((record.get("identity") or {}).get("method_version", "")),
            "collapsed": bool(record.get("collapse", {}).get("collapsed", False)),
            "n_classes": record.get("K", {}).get("value"), "k_given": bool(record.get("K", {}).get("given", True)),
            "k_estimated": record.get("K", {}).get("estimated"),
            "score_adapter": record["method"].get("score_adapter") or ""}
    rows = [{**base, "eval_set": eval_set, "metric": metric, "value": values.get(metric)}
            for eval_set, values in record["results"].items() for metric in METRICS if metric in values]
    for row in rows:
        if row["value"] is not None and (isinstance(row["value"], bool) or not isinstance(row["value"], (int, float))):
            raise TypeError(f"results.{row['eval_set']}.{row['metric']} is {row['value']!r}, not a number")
    return rows


def versions_key(identity: dict | None) -> str:
    """A short hash of what a cell's runs must share: data, backbone weights, method code and scorer versions
    (the split, which differs per split seed, is checked separately). Empty for records written before it."""
    if not identity:
        return ""
    shared = {k: v for k, v in identity.items() if k != "split"}
    return hashlib.sha256(json.dumps(shared, sort_keys=True).encode()).hexdigest()[:12]


def merge_results(committed: pd.DataFrame, fresh: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """``fresh`` rows plus the ``committed`` rows of run slots (``key``: configuration and seeds) that ``fresh``
    does not hold, so records from several machines accumulate in one results store and a re-run (of newer data,
    weights or code) replaces the older run of its slot whole."""
    kept = committed.merge(fresh[key].drop_duplicates(), on=key, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([kept, fresh], ignore_index=True)

"""Run records -> one long-format table (a row per run, evaluation set and metric): ``leaderboard/results.csv``."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from benchmark.core.errors import GFaceError
from benchmark.runner import RECORD_SCHEMA

METRICS = ("all", "old", "new", "all_v1", "old_v1", "new_v1", "all_balanced", "old_balanced", "new_balanced",
           "auroc", "fpr_at_tpr95", "closed_accuracy", "closed_mca")
COLUMNS = ("protocol", "protocol_version", "dataset", "open_class", "method", "params", "ablation", "backbone",
           "scorer", "eval_set", "split_seed", "repetition", "run_id", "split_sha256", "score_adapter", "metric",
           "value")


def collect_records(runs_dir: Path) -> pd.DataFrame:
    """Every finished run (a ``done`` marker next to ``record.json``) under ``runs_dir``, in long format."""
    rows = []
    for done in sorted(Path(runs_dir).glob("*/*/*/done")):
        path = done.parent / "record.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise GFaceError(f"run record {path} is unreadable ({exc}); delete its folder to re-run it") from exc
        if record.get("schema") != RECORD_SCHEMA:
            raise GFaceError(f"run record {path} has schema {record.get('schema')!r}, this suite reads schema "
                             f"{RECORD_SCHEMA}; delete its folder to re-run it (or collect it with the suite's "
                             f"version that wrote it)")
        rows += record_rows(record)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def record_rows(record: dict) -> list[dict]:
    base = {"protocol": record["protocol"]["id"], "protocol_version": record["protocol"]["version"],
            "dataset": record["protocol"]["dataset"], "open_class": record["protocol"].get("open_class") or "",
            "method": record["method"]["name"],
            "params": json.dumps(record["method"]["params"], sort_keys=True),
            "ablation": record["method"].get("ablation") or "", "backbone": record["backbone"]["name"],
            "scorer": record["scorer"], "split_seed": record["seeds"]["split"],
            "repetition": record["seeds"]["repetition"], "run_id": record["run_id"],
            "split_sha256": record["protocol"]["split_sha256"],
            "score_adapter": record["method"].get("score_adapter") or ""}
    return [{**base, "eval_set": eval_set, "metric": metric, "value": values.get(metric)}
            for eval_set, values in record["results"].items() for metric in METRICS if metric in values]


def merge_results(committed: pd.DataFrame, fresh: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """``fresh`` rows plus the ``committed`` rows of runs that ``fresh`` does not hold (a run's rows are replaced
    whole), so records from several machines accumulate in one results.csv."""
    kept = committed.merge(fresh[key].drop_duplicates(), on=key, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
    return pd.concat([kept, fresh], ignore_index=True)


def write_results(frame: pd.DataFrame, path: Path) -> None:
    from benchmark.core.atomic import write_text
    ordered = frame.sort_values(["protocol", "method", "params", "ablation", "split_seed", "repetition", "eval_set",
                                 "metric"], kind="stable")
    write_text(path, ordered.to_csv(index=False, float_format="%.6f"))


def read_results(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        raise GFaceError(f"{path} does not exist and no run records were found; run the benchmark first "
                         f"(python run_benchmark.py --methods all)")
    frame = pd.read_csv(path, dtype={"params": str, "ablation": str, "score_adapter": str, "open_class": str},
                        keep_default_na=False, na_values={"value": [""]})
    for column in ("open_class", "ablation"):  # written before open-set protocols or ablation runs existed
        if column not in frame:
            frame.insert(list(COLUMNS).index(column), column, "")
    return frame

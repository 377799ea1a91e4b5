"""The old single-file results table, ``leaderboard/results.csv`` (a row per run, evaluation set and metric, each
repeating the run's parameters), read for its one-time conversion into the results store
(``python -m benchmark.tools.migrate_results``)."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from benchmark.core.errors import GFaceError
from benchmark.core.text_files import read_text
from benchmark.reporting.collect import COLUMNS
from benchmark.reporting.store import typed_run_fields

OPTIONAL_COLUMNS = {"open_class": "", "family": "", "model_selection": "last_epoch", "hparam_draw": 0,
                    "ablation": "", "versions": "", "method_version": "", "collapsed": False,  # absent in older files
                    "n_classes": None, "k_given": True, "k_estimated": None}
RESTORE = "restore it with git checkout before converting it"


def read_legacy_csv(path: Path) -> pd.DataFrame:
    """The long table held by an old ``results.csv``, typed as ``benchmark.reporting.store.read_results`` returns it."""
    try:
        frame = pd.read_csv(io.StringIO(read_text(path, f"re-save it as UTF-8, or {RESTORE}")), dtype={"params": str, "ablation": str, "score_adapter": str, "open_class": str,
                                         "versions": str, "method_version": str, "family": str, "model_selection": str},
                            keep_default_na=False, na_values={"value": [""]})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as exc:
        raise GFaceError(f"{path} is not a readable results table ({exc}); {RESTORE}") from exc
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in frame:
            frame.insert(min(list(COLUMNS).index(column), len(frame.columns)), column, default)
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise GFaceError(f"{path} lacks the columns {missing}; {RESTORE}")
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = frame["value"].notna() & values.isna()
    if bad.any():
        raise GFaceError(f"{path}, line {bad.to_numpy().argmax() + 2}: value {frame['value'][bad].iloc[0]!r} is not "
                         f"a number; {RESTORE}")
    frame["value"] = values
    return typed_run_fields(frame)

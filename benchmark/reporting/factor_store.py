"""The results store's ``diagnostics.csv`` (one per protocol folder, only where some run has diagnostics): what a
run's D_U clusters follow (``benchmark/cluster_factors.py``), a row per run, factor and metric, so that the board's
section "What do the clusters follow?" regenerates from the store alone (no predictions are committed).

Columns ``DIAGNOSTIC_COLUMNS``; ``value`` to 6 decimals (``null`` where undefined), ``n`` the images it is over;
rows sorted by run key, factor and metric.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.core.errors import GFaceError
from benchmark.core.text_files import read_text

DIAGNOSTICS_FILE = "diagnostics.csv"
DIAGNOSTIC_KEY = ["protocol", "method", "run_id", "factor", "metric"]
DIAGNOSTIC_COLUMNS = DIAGNOSTIC_KEY + ["value", "n"]
_REBUILD = "rebuild it from run records: python run_benchmark.py leaderboard --rebuild"


def empty_diagnostics() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else int if c == "n" else object)
                         for c in DIAGNOSTIC_COLUMNS})


def diagnostics_texts(diagnostics: pd.DataFrame, runs: pd.DataFrame) -> dict[str, str]:
    """``{protocol: text of its diagnostics.csv}`` for the rows of runs in ``runs`` (RUN_KEY columns)."""
    if diagnostics is None or diagnostics.empty:
        return {}
    kept = diagnostics.merge(runs[["protocol", "method", "run_id"]].drop_duplicates(), how="inner")
    if kept.duplicated(DIAGNOSTIC_KEY).any():
        protocol, method, run_id, factor, metric = kept[kept.duplicated(DIAGNOSTIC_KEY)].iloc[0][DIAGNOSTIC_KEY]
        raise GFaceError(f"run {run_id} of {method} on {protocol!r} has two values of {metric} for {factor}; "
                         f"{_REBUILD}")
    kept = kept.sort_values(DIAGNOSTIC_KEY, kind="stable")
    text = kept.assign(value=["null" if np.isnan(v) else "%.6f" % v for v in kept["value"].astype(float)],
                       n=kept["n"].astype(int))
    return {p: rows[DIAGNOSTIC_COLUMNS].to_csv(index=False) for p, rows in text.groupby("protocol", sort=True)}


def read_diagnostics(store: Path) -> pd.DataFrame:
    """Every protocol folder's ``diagnostics.csv`` under ``store`` as one table (empty when there is none)."""
    frames = []
    for path in sorted(Path(store).glob(f"*/{DIAGNOSTICS_FILE}")):
        text = read_text(path, f"re-save it as UTF-8, or {_REBUILD}")
        try:
            table = pd.read_csv(io.StringIO(text), dtype={c: str for c in DIAGNOSTIC_KEY}, keep_default_na=False)
        except (pd.errors.ParserError, ValueError) as exc:
            raise GFaceError(f"{path} is not a readable table ({exc}); {_REBUILD}") from exc
        if list(table.columns) != DIAGNOSTIC_COLUMNS:
            raise GFaceError(f"{path} has the columns {list(table.columns)}, not {DIAGNOSTIC_COLUMNS}; {_REBUILD}")
        value = pd.to_numeric(table["value"].replace("null", np.nan), errors="coerce")
        bad = value.isna() & (table["value"].astype(str) != "null")
        if bad.any():
            raise GFaceError(f"{path}, line {int(np.argmax(bad)) + 2}: value {table['value'][bad].iloc[0]!r} is not "
                             f"a number; {_REBUILD}")
        frames.append(table.assign(value=value.astype(float), n=pd.to_numeric(table["n"]).astype(int)))
    return pd.concat(frames, ignore_index=True) if frames else empty_diagnostics()


def merge_diagnostics(stored: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """``fresh`` rows plus the ``stored`` rows of runs ``fresh`` does not hold (which runs stay is decided by the
    long table: ``diagnostics_texts`` keeps only the rows of its runs)."""
    runs = fresh[["protocol", "method", "run_id"]].drop_duplicates()
    kept = stored.merge(runs, how="left", indicator=True)
    return pd.concat([kept[kept["_merge"] == "left_only"].drop(columns="_merge"), fresh], ignore_index=True)

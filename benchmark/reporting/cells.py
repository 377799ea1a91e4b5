"""Table pieces every leaderboard section uses: row labels, cells and the All/Old/New columns. Rendering flows one
way: board -> headline / open_set / k_unknown / fair -> cells.

Cells are ``mean ± sample std (n seeds)``; accuracies in % with one decimal, AUROC and FPR@TPR95 as fractions with
three.
"""
from __future__ import annotations

import json

import pandas as pd

from benchmark.protocol import LABELLED_VALIDATION

SPLITS = (("all", "All"), ("old", "Old"), ("new", "New"))
MISSING = "–"
COLLAPSED = " †"  # a cell with at least one collapsed run (one cluster >= 90 % of the scored set, or Old = 0)


def searched(frame: pd.DataFrame) -> pd.Series:
    """Rows of protocols that select among search draws: they belong to the fair-comparison section only."""
    return frame["model_selection"] == LABELLED_VALIDATION


def row_labels(frame: pd.DataFrame) -> pd.Series:
    """The method name, plus the differing parameters when one method ran with several configurations, plus the
    backbone in brackets when some protocol ran on several backbones (``--backbones``)."""
    labels = {}
    for method, group in frame.groupby("method"):
        configs = sorted(group["params"].unique())
        if len(configs) == 1:
            labels[(method, configs[0])] = method
            continue
        parsed = [json.loads(c) for c in configs]
        keys = set().union(*parsed)  # a record written before a parameter existed lacks it: shown as "–"
        varying = sorted(k for k in keys if len({json.dumps(p.get(k)) for p in parsed}) > 1)
        for config, params in zip(configs, parsed):
            labels[(method, config)] = f"{method} ({', '.join(f'{k}={params.get(k, MISSING)}' for k in varying)})"
    rows = frame.apply(lambda r: labels[(r["method"], r["params"])], axis=1)
    if (frame.groupby("protocol")["backbone"].nunique() > 1).any():  # backbones compared: a row per backbone
        rows = rows + " [" + frame["backbone"] + "]"
    return rows


def cell(values: pd.Series, percent: bool) -> str:
    values = values.dropna().astype(float)
    if values.empty:
        return "–"
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    mean = values.mean() * scale
    if len(values) == 1:
        return f"{mean:.{digits}f} (1)"
    return f"{mean:.{digits}f} ± {values.std(ddof=1) * scale:.{digits}f} ({len(values)})"


def versions_note(frame: pd.DataFrame) -> str:
    """The run-identity keys of ``frame``'s runs (data, weights, method code, scorer), or a note that they were
    written before run records carried one, so a stale section shows as such."""
    keys = sorted(k for k in frame["versions"].astype(str).unique() if k)
    older = (frame["versions"].astype(str) == "").any()
    return ", ".join(keys + (["recorded before run identities"] if older else []))

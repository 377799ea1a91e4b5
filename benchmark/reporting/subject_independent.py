"""The subject-independent section: each ``subject_independent: true`` protocol beside its counterpart, the registered
protocol of the same task whose D_L, D_U and test share their people (same dataset, classes, labelled fraction, K
rule, scorer; protocols/README.md, "Subject-independent splits").

Rows = methods in their default configuration, ranked by their mean All over the subject-independent protocols;
per pair: All with and without shared people and the drop ΔAll = mean(subject-independent) − mean(shared), in
points, ± its standard error from the two seed spreads, over the seeds both protocols have.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.reporting.cells import COLLAPSED, cell
from benchmark.reporting.headline import (EVAL_SET, registries, display_name, is_default_config,
                                          main_table_rows)

SEEDS = ["split_seed", "repetition"]


def _task(protocol) -> tuple:
    return (protocol.dataset, tuple(protocol.known), tuple(protocol.new), protocol.labelled_fraction,
            protocol.k_given, protocol.kind, protocol.family, protocol.scorer, protocol.validation_fraction)


def counterparts(frame: pd.DataFrame) -> dict[str, str]:
    """Subject-independent protocol id -> the id of its counterpart, for the protocols of ``frame`` that have both."""
    _, registered, _ = registries()
    independent = subject_independent_protocols(frame)
    shared = {_task(registered.get(p)): p for p in sorted(frame["protocol"].unique())
              if p in registered.names() and p not in independent}
    return {p: shared[_task(registered.get(p))] for p in independent if _task(registered.get(p)) in shared}


def subject_independent_protocols(frame: pd.DataFrame) -> list[str]:
    """Every subject-independent protocol of ``frame`` (with or without a counterpart there)."""
    _, registered, _ = registries()
    return sorted(p for p in frame["protocol"].unique()
                  if p in registered.names() and registered.get(p).subject_independent)


def drop_cell(independent: pd.DataFrame, shared: pd.DataFrame) -> str:
    """ΔAll in points ± its standard error over the seeds both ``independent`` and ``shared`` (All rows) have."""
    seeds = independent[SEEDS].merge(shared[SEEDS]).drop_duplicates()
    a, b = (rows.merge(seeds)["value"].astype(float) for rows in (independent, shared))
    if a.empty or b.empty:
        return "–"
    delta = 100 * (a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return f"{delta:+.1f} ({len(seeds)})"
    error = 100 * np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return f"{delta:+.1f} ± {error:.1f} ({len(seeds)})"


def drop_table(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of the drop table; empty without a subject-independent protocol that has its counterpart."""
    pairs = counterparts(frame)
    if not pairs:
        return [], []
    rows = main_table_rows(frame)
    rows = rows[rows["protocol"].isin([*pairs, *pairs.values()]) & (rows["eval_set"] == EVAL_SET)
                & (rows["metric"] == "all")]
    rows = rows[is_default_config(rows)].copy()
    if rows.empty:
        return [], []
    rows["row"] = rows["method"].map(display_name)
    independent = rows[rows["protocol"].isin(list(pairs))]
    score = independent.groupby(["row", "protocol"])["value"].mean().unstack()
    score = score.reindex(columns=list(pairs)).mean(axis=1, skipna=False)
    ranking = score.reindex(rows["row"].unique()).fillna(-np.inf)  # rows without every pair last
    order = sorted(ranking.index, key=lambda r: (-ranking[r], r))
    headers = ["Method"]
    for protocol, shared in pairs.items():
        headers += [f"{shared} All", f"{protocol} All", "ΔAll"]
    headers.append("Mean All (subject-independent)")
    body = []
    for label in order:
        mine = rows[rows["row"] == label]
        line = [label]
        for protocol, shared in pairs.items():
            a, b = mine[mine["protocol"] == protocol], mine[mine["protocol"] == shared]
            line += [cell(b["value"], True) + (COLLAPSED if b["collapsed"].any() else ""),
                     cell(a["value"], True) + (COLLAPSED if a["collapsed"].any() else ""), drop_cell(a, b)]
        mean = score.get(label, np.nan)
        line.append("–" if np.isnan(mean) else f"{100 * mean:.1f}")
        body.append(line)
    return headers, body


def drop_lines(frame: pd.DataFrame) -> list[str]:
    """The drop table with its legend (markdown lines, empty without a pair)."""
    headers, body = drop_table(frame)
    if not body:
        return []
    return ["", "### What shared people were worth: All on D_U with and without them", "",
            "Methods in their default configuration, ranked by Mean All on the subject-independent protocols. ΔAll: "
            "subject-independent minus shared people, in points, ± its standard error from the two seed spreads "
            "(n: seeds both have). A subject-independent split also holds fewer images (protocols/README.md), so "
            "ΔAll is what a method lost to unseen people and to the smaller split together; the frozen-feature "
            "baselines show how much the smaller split alone costs where nothing is trained.", "",
            tabulate(body, headers, tablefmt="github", disable_numparse=True)]

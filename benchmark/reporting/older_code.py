"""Runs made by an older version of their method's code than the one registered now, marked on the board.

A method's ``version`` goes up when a change of its code changes its numbers, and every run records the version that
made it (``method_version``, results store version 2). A committed run of an older version keeps its numbers, since
they are what that code gave, but never joins the current code's rows: its method shows as ``name (code vN)`` in
every table and chart, and the section "Runs of older code" counts them per method and part of the board.
``leaderboard --check`` prints the same count. Runs that recorded no version, and methods this installation does not
register, are not judged.
"""
from __future__ import annotations

import pandas as pd

from benchmark.reporting.cells import searched
from benchmark.reporting.cross_dataset import crossed
from benchmark.reporting.headline import OLDER_CODE, registered_name, registries
from benchmark.reporting.store import RUN_KEY


def is_older_code(frame: pd.DataFrame) -> pd.Series:
    """Per row: whether its run recorded a method version older than the registered method's."""
    methods, _, _ = registries()
    current = {m: methods.get(m).version for m in methods.names()}

    def older(method: str, recorded) -> bool:
        name = registered_name(method)[0]
        return name in current and str(recorded).isdigit() and int(recorded) < int(current[name])

    pairs = frame[["method", "method_version"]].astype(str).drop_duplicates()
    verdict = {(m, v): older(m, v) for m, v in pairs.itertuples(index=False)}
    return pd.Series([verdict[(m, str(v))] for m, v in zip(frame["method"], frame["method_version"])],
                     index=frame.index, dtype=bool)


def mark_older_code(frame: pd.DataFrame, diagnostics: pd.DataFrame | None = None):
    """``frame`` (and the ``diagnostics`` of its runs) with each older-code run's method marked ``(code vN)``."""
    older = is_older_code(frame)
    if not older.any():
        return frame, diagnostics
    frame = frame.copy()
    marked = frame.loc[older, "method"] + [OLDER_CODE.format(version=v) for v in frame.loc[older, "method_version"]]
    renamed = dict(zip(map(tuple, frame.loc[older, RUN_KEY].to_numpy()), marked))
    frame.loc[older, "method"] = marked
    if diagnostics is not None and len(diagnostics):
        diagnostics = diagnostics.copy()
        keys = map(tuple, diagnostics[RUN_KEY].to_numpy())
        diagnostics["method"] = [renamed.get(key, method) for key, method in zip(keys, diagnostics["method"])]
    return frame, diagnostics


def older_code_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method and part of the board: the runs of older code, their code version and the registered one."""
    runs = frame.drop_duplicates(RUN_KEY)
    runs = runs[is_older_code(runs)]
    runs = runs.assign(recorded=runs["method_version"].astype(int))
    if runs.empty:
        return pd.DataFrame(columns=["method", "part", "recorded", "current", "runs"])
    methods, _, _ = registries()
    runs = runs.assign(name=[registered_name(m)[0] for m in runs["method"]], part=board_part(runs))
    counts = runs.groupby(["name", "part", "recorded"]).size().rename("runs").reset_index()
    counts["current"] = [methods.get(m).version for m in counts["name"]]
    return counts.rename(columns={"name": "method"})[["method", "part", "recorded", "current", "runs"]]


def board_part(runs: pd.DataFrame) -> list[str]:
    """The board section a run is shown in, by the kind of its protocol."""
    parts = pd.Series("main tables", index=runs.index)
    parts[runs["open_class"].astype(str) != ""] = "open set"
    parts[~runs["k_given"].astype(bool)] = "K not given"
    parts[crossed(runs)] = "cross-dataset"
    parts[searched(runs)] = "fair comparison"
    parts[runs["ablation"].astype(str) != ""] = "ablations"
    return [f"{part}, {dataset}" for part, dataset in zip(parts, runs["dataset"])]


def older_code_summary(frame: pd.DataFrame) -> str:
    """One line: how many runs of older code ``frame`` holds, by method ("" if none)."""
    counts = older_code_counts(frame)
    if counts.empty:
        return ""
    per_method = counts.groupby(["method", "recorded", "current"])["runs"].sum().reset_index()
    listed = ", ".join(f"{r.method} v{r.recorded} (code v{r.current}): {r.runs}" for r in per_method.itertuples())
    return f"{int(counts['runs'].sum())} runs of older method code, shown apart as (code vN): {listed}"


def older_code_lines(frame: pd.DataFrame) -> list[str]:
    """The board section listing the older-code runs of ``frame``, with what re-runs them."""
    counts = older_code_counts(frame)
    if counts.empty:
        return []
    from benchmark.reporting.headline import display_name
    lines = ["", "## Runs of older code", "",
             "These runs were made by an older version of their method's code than the one registered now (the "
             "version goes up when a change of the code changes its numbers). Their numbers stand as what that code "
             "gave; every table and chart shows them as their own row, marked (code vN), never averaged with the "
             "current code's runs. The Regenerate command of their section re-runs them at the current version "
             "(`python run_benchmark.py reproduce --list` names the sweeps).", "",
             "| method | part of the board | runs | version of the runs | version of the code |",
             "|---|---|---|---|---|"]
    for row in counts.itertuples(index=False):
        lines.append(f"| {display_name(row.method)} | {row.part} | {row.runs} | {row.recorded} | {row.current} |")
    return lines

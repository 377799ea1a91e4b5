"""The "K unknown" table of the leaderboard: protocols with ``k_given: false`` (protocols/README.md, "K unknown").

Rows = methods, columns = protocol x (All, Old, New on D_U, and the estimated K with the true K in the header).
Accuracy cells are ``mean ± sample std (n seeds)`` as everywhere; the K cell is the mean ± std of the methods'
estimates over the same runs ("–" for a method that estimated nothing).
"""
from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from benchmark.reporting.cells import SPLITS, cell, row_labels, searched


def k_unknown_lines(frame: pd.DataFrame, eval_set: str = "unlabelled_train") -> list[str]:
    """Markdown lines of the section (empty without records of a ``k_given: false`` protocol)."""
    subset = frame[~frame["k_given"].astype(bool) & (frame["eval_set"] == eval_set) & (frame["ablation"] == "")
                   & ~searched(frame)].copy()  # searches: the fair section
    if subset.empty:
        return []
    subset["row"] = row_labels(subset)
    protocols = sorted(subset["protocol"].unique())
    true_k = subset.groupby("protocol")["n_classes"].max()
    headers = ["Method"] + [f"{p} {h}" for p in protocols for _, h in SPLITS]
    headers += [f"{p} estimated K (true {true_k[p]:.0f})" for p in protocols]
    rows = []
    for label in sorted(subset["row"].unique()):
        mine = subset[subset["row"] == label]
        here = {p: mine[mine["protocol"] == p] for p in protocols}
        row = [label] + [cell(here[p].loc[here[p]["metric"] == m, "value"], True) for p in protocols for m, _ in SPLITS]
        row += [k_cell(here[p].drop_duplicates("run_id")["k_estimated"]) for p in protocols]
        rows.append(row)
    return ["", "## K unknown: D_U v2 accuracy with the number of classes estimated by the method", "",
            "Protocols with `k_given: false` (protocols/README.md, \"K unknown\"): the same splits as their K-given "
            "twins, but no method is told K. Methods that need K refuse these protocols before a run starts.", "",
            tabulate(rows, headers, tablefmt="github", disable_numparse=True)]


def k_cell(estimates: pd.Series) -> str:
    values = estimates.dropna().astype(float)
    if values.empty:
        return "–"
    if len(values) == 1:
        return f"{values.iloc[0]:.0f} (1)"
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f} ({len(values)})"

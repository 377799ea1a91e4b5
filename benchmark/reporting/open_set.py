"""Open-set tables of the leaderboard (Open-Set-FER's leave-one-class-out protocol family; benchmark/README.md,
"Evaluation").

One family per dataset: the records scored on ``osfer_pool`` by open-set protocols. Per family and metric a table
with rows = methods, columns = held-out (open) classes plus their mean, as in the paper's table. Cells are
``mean ± sample std (n seeds)``, with † when a run in it collapsed (``benchmark/scoring.py``, ``collapse``); "Mean"
is the mean over held-out classes of the per-class means, shown only for rows that cover every held-out class of
the family.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.protocol import OSFER_POOL
from benchmark.reporting.cells import COLLAPSED, cell, row_labels, versions_note

REFERENCE_ROW = " · reference score, same run"  # a method's Predictions.reference_knownness (the MSP of its own
# closed-set model, for Open-Set-FER)
TABLES = (("auroc", "AUROC (higher is better)", False), ("fpr_at_tpr95", "FPR@TPR95 (lower is better)", False),
          ("closed_accuracy", "closed-set accuracy of the known classes, no matching, %", True))


def open_set_lines(frame: pd.DataFrame) -> list[str]:
    """Markdown lines of the open-set section (empty without open-set records)."""
    subset = open_set_records(frame)
    if subset.empty:
        return []
    lines = ["", "## Open-set recognition: leave-one-class-out, Open-Set-FER pool (test images + open-class D_U)", "",
             "Each held-out class is one protocol (known = the other classes, all their training images labelled). "
             "AUROC and FPR@TPR95 with known = positive, from each method's knownness score; a row marked "
             f"'{REFERENCE_ROW.strip(' ·')}' scores the second knownness a method reports from the same run (for "
             "openset-fer: the maximum softmax probability of its own closed-set model), the baseline its own score "
             f"should beat.{COLLAPSED} marks a cell with at least one collapsed run: one predicted class or cluster "
             "holds at least 90 % of the pool, or Old accuracy there is 0."]
    for dataset, family in subset.groupby("dataset"):
        def listed(column: str) -> str:
            return ", ".join(sorted(family[column].astype(str).unique()))

        lines += ["", f"### {dataset}", "", f"Protocols {listed('protocol')} (version {listed('protocol_version')}); "
                  f"backbone {listed('backbone')}; scorer {listed('scorer')}; run identities: "
                  f"{versions_note(family)}."]
        for title, (headers, rows) in family_tables(dataset, family):
            lines += ["", f"{title}:", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True)]
    return lines


def open_set_tables(frame: pd.DataFrame) -> list[tuple[str, tuple[list[str], list[list[str]]]]]:
    """(title, (headers, rows)) of every open-set table, in the order of the markdown section."""
    return [table for dataset, family in open_set_records(frame).groupby("dataset")
            for table in family_tables(dataset, family)]


def family_tables(dataset: str, family: pd.DataFrame) -> list[tuple[str, tuple[list[str], list[list[str]]]]]:
    tables = [(f"{dataset}, {title}", family_table(family, metric, percent)) for metric, title, percent in TABLES]
    return [(title, table) for title, table in tables if table[1]]


def open_set_records(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows scored on ``osfer_pool`` by open-set protocols (no ablations), with their method ``row`` label."""
    subset = frame[(frame["eval_set"] == OSFER_POOL) & (frame["open_class"] != "") & (frame["ablation"] == "")].copy()
    subset["row"] = row_labels(subset) if len(subset) else pd.Series(dtype=str)
    return subset


def family_table(family: pd.DataFrame, metric: str, percent: bool) -> tuple[list[str], list[list[str]]]:
    """Rows = methods with values of ``metric``; columns = held-out classes (sorted) + Mean."""
    classes = sorted(family["open_class"].unique())
    reference = family[family["metric"] == f"{metric}_reference"]
    values = pd.concat([family[family["metric"] == metric], reference.assign(row=reference["row"] + REFERENCE_ROW)])
    rows = []
    for label in sorted(values["row"].unique()):
        mine = values[values["row"] == label]
        cells = [mine[mine["open_class"] == c] for c in classes]
        per_class = [here["value"].dropna().astype(float) for here in cells]
        flags = [COLLAPSED if here["collapsed"].any() else "" for here in cells]
        complete = all(len(v) for v in per_class)
        mean = np.mean([v.mean() for v in per_class]) * (100.0 if percent else 1.0) if complete else None
        rows.append([label] + [cell(v, percent) + flag for v, flag in zip(per_class, flags)]
                    + ["–" if mean is None else f"{mean:.{1 if percent else 3}f}"])
    return ["Method", *classes, "Mean"], rows

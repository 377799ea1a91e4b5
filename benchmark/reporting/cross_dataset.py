"""The cross-dataset tables of the leaderboard: trained on one dataset's D_L and D_U, tested on another's test split
(protocols/README.md, "Cross-dataset protocols"; ``datasets/cross_dataset.py``).

One table per training dataset: rows = method and backbone, columns = per protocol the transductive All on the
training data's D_U and the inductive All, Old and New on the other dataset's test split. Cells are
``mean ± sample std (n seeds)`` with † where a run collapsed, as everywhere (``cells.py``).
"""
from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from benchmark.reporting.cells import COLLAPSED, SPLITS, cell, row_labels, searched, versions_note
from datasets.cross_dataset import cross_dataset_parts


def crossed(frame: pd.DataFrame) -> pd.Series:
    """Per row: whether its protocol tests on another dataset than it trains on."""
    return frame["dataset"].map(lambda name: cross_dataset_parts(str(name)) is not None).astype(bool)


def cross_dataset_records(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[crossed(frame) & (frame["ablation"] == "") & ~searched(frame) & (frame["open_class"] == "")]


def training_dataset(records: pd.DataFrame) -> pd.Series:
    return records["dataset"].map(lambda name: cross_dataset_parts(str(name))[0])


def cross_dataset_lines(frame: pd.DataFrame) -> list[str]:
    """Markdown lines of the section (empty without cross-dataset records)."""
    subset = cross_dataset_records(frame)
    if subset.empty:
        return []
    lines = ["", "## Cross-dataset: trained on one dataset, tested inductively on another (v2 accuracy)", "",
             "D_L and D_U come from the training dataset, as in its own protocol; the test split is the other "
             "dataset's official test split, relabelled by the class correspondence each protocol file declares. "
             f"{COLLAPSED} marks a cell with a collapsed run."]
    for train, group in subset.groupby(training_dataset(subset)):
        headers, rows = cross_dataset_table(group)
        lines += ["", f"### Trained on {train}", "",
                  f"Protocols {', '.join(sorted(group['protocol'].unique()))}; run identities: "
                  f"{versions_note(group)}.", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True)]
    return lines


def cross_dataset_table(group: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Rows = (method with its parameters, backbone); columns = protocol x (D_U All, test All/Old/New)."""
    protocols = sorted(group["protocol"].unique())
    tests = {p: cross_dataset_parts(group.loc[group["protocol"] == p, "dataset"].iloc[0])[1] for p in protocols}
    columns = [(p, "unlabelled_train", "all", "D_U All") for p in protocols]
    columns += [(p, "test", metric, f"{tests[p]} test {header}") for p in protocols for metric, header in SPLITS]
    headers = ["Method", "Backbone"] + [f"{p}: {h}" if len(protocols) > 1 else h for p, _, _, h in columns]
    labels = row_labels(group.assign(backbone=""))  # the method and its differing parameters; backbone: a column
    rows = []
    for (label, backbone), mine in group.groupby([labels, group["backbone"]]):
        row = [label, backbone]
        for protocol, eval_set, metric, _ in columns:
            here = mine[(mine["protocol"] == protocol) & (mine["eval_set"] == eval_set)]
            flag = COLLAPSED if here["collapsed"].any() else ""
            row.append(cell(here.loc[here["metric"] == metric, "value"], True) + flag)
        rows.append(row)
    return headers, rows

"""The section "What do the clusters follow?": per method (its runs in the main tables) and protocol, the agreement
of its D_U clusters with each per-image factor (``benchmark/cluster_factors.py``), read from the results store's
``diagnostics.csv``; mean ± sample std over seeds (n). No section when no run has diagnostics."""
from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from benchmark.reporting.cells import cell
from benchmark.reporting.headline import chart_protocols, is_default_config, main_table_rows, variant_labels

FACTOR_NAMES = {"expression": "expression (annotated)", "true_expression": "expression (true)",
                "identity": "person", "intensity": "intensity bin"}
ACCURACY_COLUMNS = (("expression", "accuracy", "annotated"), ("true_expression", "accuracy", "true"),
                    ("intensity", "accuracy_weak", "weak"), ("intensity", "accuracy_medium", "medium"),
                    ("intensity", "accuracy_strong", "strong"), ("intensity", "accuracy_no_bin", "no bin"),
                    ("label_noise", "follows_annotated", "noisy → label"),
                    ("label_noise", "follows_true", "noisy → true"))


def factor_records(frame: pd.DataFrame, diagnostics: pd.DataFrame | None) -> pd.DataFrame:
    """Diagnostics of the runs the main tables show, with their row label (``row``)."""
    if diagnostics is None or diagnostics.empty:
        return pd.DataFrame(columns=["protocol", "row", "factor", "metric", "value", "run_id"])
    runs = main_table_rows(frame).drop_duplicates(["protocol", "method", "run_id"])
    runs = runs[runs["protocol"].isin(diagnostics["protocol"].unique())].copy()
    if runs.empty:
        return pd.DataFrame(columns=["protocol", "row", "factor", "metric", "value", "run_id"])
    runs["row"] = variant_labels(runs, is_default_config(runs))  # as the main tables name them
    return diagnostics.merge(runs[["protocol", "method", "run_id", "row"]], on=["protocol", "method", "run_id"])


def factor_lines(frame: pd.DataFrame, diagnostics: pd.DataFrame | None) -> list[str]:
    records = factor_records(frame, diagnostics)
    if records.empty:
        return []
    lines = ["", "## What do the clusters follow?", "",
             "Agreement of each run's D_U clusters with what the scorer side knows per image and no method sees "
             "(benchmark/README.md, \"What do the clusters follow?\"): the annotated expression, the expression "
             "before annotation noise, the person, and the expression's intensity (weak / medium / strong: largest "
             "AU intensity below 0.5, below 0.75, from 0.75; faces with no expression have no bin). NMI (1 = the "
             "same partition) is not adjusted for chance: against a factor of many small groups (300 people) even "
             "random clusters score well above 0, so compare factors by AMI and ARI (adjusted for chance: 0 = "
             "chance, 1 = the same partition). Computed from the saved predictions when results are collected; "
             "mean ± std over seeds (n)."]
    factors = [f for f in FACTOR_NAMES if f in set(records["factor"])]
    factors += sorted(set(records["factor"]) - set(FACTOR_NAMES) - {"label_noise"})
    agreement = [(f, metric, f"{FACTOR_NAMES.get(f, f)} {title}") for f in factors
                 for metric, title in (("ami", "AMI"), ("nmi", "NMI"), ("ari", "ARI"))]
    accuracy = [c for c in ACCURACY_COLUMNS if c[1] in set(records["metric"])]
    lines += ["", "Per protocol, two tables. Agreement: AMI, NMI and ARI of the D_U clusters with each factor. Accuracy: "
              "Hungarian accuracy (v2, one matching against the annotated classes; `true`: a matching against the "
              "true classes); by intensity bin and on the images whose label differs from their true class (noisy → "
              "label: the cluster is matched to the annotated class, noisy → true: to the true one). The bins cover "
              "only the faces that show an expression: neutral faces have no intensity bin and are the column `no "
              "bin`. In each run weak, medium, strong and no bin, weighted by their images, give `annotated`, so "
              "where most correct images are neutral every bin scores below it (a closed-set method whose one large "
              "cluster is matched to neutral)."]
    present = set(records["protocol"])
    charted = [p for p in chart_protocols(frame) if p in present]  # default protocols first, as the charts
    for protocol in charted + sorted(present - set(charted)):
        mine = records[records["protocol"] == protocol]
        lines += ["", f"### {protocol}", "", _table(mine, agreement), "", _table(mine, accuracy, percent=True)]
    return lines


def _table(records: pd.DataFrame, columns: list[tuple[str, str, str]], percent: bool = False) -> str:
    """Rows = method rows of ``records`` (one protocol), a column per (factor, metric, header)."""
    headers = ["Method"] + [header for _, _, header in columns]
    rows = []
    for label in sorted(records["row"].unique()):
        mine = records[records["row"] == label]
        rows.append([label] + [cell(mine.loc[(mine["factor"] == f) & (mine["metric"] == m), "value"], percent)
                               for f, m, _ in columns])
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)

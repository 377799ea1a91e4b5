"""Leaderboard tables from the results store (``leaderboard/results/``): markdown (also between markers in
README.md), LaTeX and a chart.

Cells come from ``benchmark/tables.py``. A column never mixes protocol versions or scorer versions. Ablation runs (a loss term removed) stay out of
the main tables and form their own section. Open-set protocols get their own section (``leaderboard_openset.py``), and
so do protocols that do not give K (``leaderboard_k_unknown.py``) and the fair comparison's partition families
(``leaderboard_fair.py``).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.core.errors import GFaceError
from benchmark.leaderboard_fair import fair_lines
from benchmark.leaderboard_k_unknown import k_unknown_lines
from benchmark.leaderboard_openset import open_set_lines
from benchmark.tables import COLLAPSED, SPLITS, cell, row_labels, searched, versions_note

README_START, README_END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"
REGENERATE = "python run_benchmark.py leaderboard"
RUN_KEY = ["protocol", "method", "run_id"]
RUN_SLOT = ["protocol", "method", "params", "ablation", "backbone", "split_seed", "repetition"]  # a run per slot
CELL_KEY = ["protocol", "method", "params", "ablation", "backbone"]


def check_consistent(frame: pd.DataFrame) -> None:
    mixed = frame.groupby(CELL_KEY)["versions"].nunique()
    if (mixed > 1).any():
        protocol, method = mixed[mixed > 1].index[0][:2]
        raise GFaceError(f"results of {method} on {protocol!r} mix runs of different data, weights or code versions "
                         f"in one cell; re-run the stale ones (python run_benchmark.py --methods {method} "
                         f"--protocols {protocol} ...) and rebuild with: {REGENERATE} --rebuild")
    for protocol, group in frame.groupby("protocol"):
        for column in ("protocol_version", "scorer", "split_sha256"):
            values = sorted(group[column].astype(str).unique())
            if column == "split_sha256":
                per_seed = group.groupby("split_seed")[column].nunique()
                if (per_seed > 1).any():
                    raise GFaceError(f"results for protocol {protocol!r} mix different splits for one split seed; "
                                     f"the data or split changed: delete the stale run folders and re-run")
            elif len(values) > 1:
                raise GFaceError(f"results for protocol {protocol!r} mix {column} values {values}; a column never "
                                 f"mixes versions: delete the stale run folders (runs/{protocol}/) and re-run")


def pivot(frame: pd.DataFrame, eval_set: str, metrics: list[tuple[str, str, bool]]) -> tuple[list[str], list[list]]:
    """Rows = methods, columns = protocol x metric; ``metrics`` = (metric, header, percent). No ablation runs."""
    subset = frame[(frame["eval_set"] == eval_set) & (frame["ablation"] == "") & frame["k_given"].astype(bool)
                   & ~searched(frame)].copy()
    if subset.empty:
        return [], []
    subset["row"] = row_labels(subset)
    protocols = sorted(subset["protocol"].unique())
    headers = ["Method"] + [f"{p} {h}" for p in protocols for _, h, _ in metrics]
    rows = []
    for label in sorted(subset["row"].unique()):
        mine = subset[subset["row"] == label]
        row = [label]
        for protocol in protocols:
            here = mine[mine["protocol"] == protocol]
            flag = COLLAPSED if here["collapsed"].any() else ""
            for metric, _, percent in metrics:
                row.append(cell(here.loc[here["metric"] == metric, "value"], percent) + flag)
        rows.append(row)
    return headers, rows


MAIN_METRICS = [(m, h, True) for m, h in SPLITS]
BALANCED_METRICS = [("all_balanced", "MCA", True), ("auroc", "AUROC", False), ("fpr_at_tpr95", "FPR95", False)]
MAIN_SECTIONS = [  # (title, evaluation set, metrics): the tables of every protocol that is not open-set
    ("Transductive: unlabelled training pool D_U (primary), v2 accuracy", "unlabelled_train", MAIN_METRICS),
    ("Inductive: test split, v2 accuracy", "test", MAIN_METRICS),
    ("Class balance and knownness on D_U: mean class accuracy (v2b), AUROC, FPR@TPR95", "unlabelled_train",
     BALANCED_METRICS),
]


def render_markdown(frame: pd.DataFrame) -> str:
    check_consistent(frame)
    protocols = frame[frame["open_class"] == ""].drop_duplicates("protocol").sort_values("protocol")
    lines = ["# GFACE-Bench leaderboard", "",
             f"Generated from `leaderboard/results/` ({len(frame.drop_duplicates(RUN_KEY))} runs) by `{REGENERATE}`; "
             "do not edit by hand. Cells: mean ± sample std (n seeds). Accuracies in %, Hungarian-matched; "
             "AUROC and FPR@TPR95 (known = positive) as fractions. † marks a cell with at least one collapsed run "
             "(one cluster holds ≥ 90 % of the scored set, D_U or on open-set protocols the pool, or Old accuracy is "
             "0 there).", "",
             "| Protocol | Version | Dataset | Backbone | Scorer | Run identities |", "|---|---|---|---|---|---|"]
    for _, p in protocols.iterrows():
        runs = frame[frame["protocol"] == p["protocol"]]
        backbones = ", ".join(sorted(runs["backbone"].unique()))
        lines.append(f"| {p['protocol']} | {p['protocol_version']} | {p['dataset']} | {backbones} | {p['scorer']} "
                     f"| {versions_note(runs)} |")
    for title, eval_set, metrics in MAIN_SECTIONS:
        headers, rows = pivot(frame, eval_set, metrics)
        if rows:
            lines += ["", f"## {title}", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True)]
    lines += k_unknown_lines(frame)
    lines += fair_lines(frame)
    lines += open_set_lines(frame)
    tables = ablation_tables(frame)
    if tables:
        lines += ["", "## Ablations: each loss term removed in turn (D_U, v2 accuracy; ΔAll vs full in points)"]
        for title, (headers, rows) in tables:
            lines += ["", f"### {title}", "", tabulate(rows, headers, tablefmt="github", disable_numparse=True)]
    return "\n".join(lines) + "\n"


def ablation_tables(frame: pd.DataFrame, eval_set: str = "unlabelled_train") -> list[tuple[str, tuple[list, list]]]:
    """Per full configuration with ablation runs: (title, (headers, rows)); rows full and "− term", columns
    protocol x All/Old/New/ΔAll.

    An ablation run's full configuration is the non-ablation configuration of the same method whose parameters
    differ from it in exactly one, zeroed, weight.
    """
    subset = frame[(frame["eval_set"] == eval_set) & ~searched(frame)]
    main, ablated = subset[subset["ablation"] == ""], subset[subset["ablation"] != ""]
    if ablated.empty:
        return []
    labels = dict(zip(zip(main["method"], main["params"]), row_labels(main))) if not main.empty else {}
    groups: dict[tuple[str, str | None], list[tuple[str, str]]] = {}
    for method, params, term in ablated[["method", "params", "ablation"]].drop_duplicates().itertuples(index=False):
        full = _full_config(params, main.loc[main["method"] == method, "params"].unique())
        groups.setdefault((method, full), []).append((term, params))
    tables = []
    for (method, full), terms in sorted(groups.items(), key=lambda group: (group[0][0], group[0][1] or "")):
        mine = subset[subset["method"] == method]
        configs = [("full", mine[(mine["params"] == full) & (mine["ablation"] == "")])]
        configs += [(f"− {term}", mine[(mine["params"] == params) & (mine["ablation"] == term)])
                    for term, params in sorted(terms)]
        tables.append((labels.get((method, full), f"{method} (full configuration not run)"), _ablation_rows(configs)))
    return tables


def _ablation_rows(configs: list[tuple[str, pd.DataFrame]]) -> tuple[list[str], list[list[str]]]:
    full = configs[0][1]
    protocols = sorted(set().union(*(set(runs["protocol"]) for _, runs in configs)))
    headers = ["Configuration"] + [f"{p} {h}" for p in protocols for h in ("All", "Old", "New", "ΔAll")]
    rows = []
    for name, runs in configs:
        row = [name]
        for protocol in protocols:
            here = runs[runs["protocol"] == protocol]
            row += [cell(here.loc[here["metric"] == metric, "value"], True) for metric, _ in SPLITS]
            row.append("" if runs is full else _delta(here, full[full["protocol"] == protocol]))
        rows.append(row)
    return headers, rows


def _full_config(ablated: str, candidates) -> str | None:
    params = json.loads(ablated)
    for candidate in sorted(candidates):
        full = json.loads(candidate)
        differing = [k for k in set(full) | set(params) if full.get(k) != params.get(k)]
        if len(differing) == 1 and params.get(differing[0]) == 0:
            return candidate
    return None


def _delta(ablated: pd.DataFrame, full: pd.DataFrame) -> str:
    """Mean All of the ablation minus mean All of the full configuration over the same seeds, in points."""
    seeds = ablated[["split_seed", "repetition"]].drop_duplicates()
    full = full.merge(seeds, on=["split_seed", "repetition"])
    a, f = (rows.loc[rows["metric"] == "all", "value"].dropna() for rows in (ablated, full))
    return f"{100 * (a.mean() - f.mean()):+.1f}" if len(a) and len(f) else "–"


def main_table(frame: pd.DataFrame) -> str:
    headers, rows = pivot(frame, "unlabelled_train", MAIN_METRICS)
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def splice_readme(readme: str, table: str) -> str:
    if README_START not in readme or README_END not in readme:
        raise GFaceError(f"README.md lacks the markers {README_START} / {README_END} around the leaderboard table")
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{table}\n{README_END}{tail}"


def summary_means(frame: pd.DataFrame, eval_set: str = "unlabelled_train") -> pd.DataFrame:
    """Mean and std per (row label, protocol, metric) for the chart."""
    subset = frame[(frame["eval_set"] == eval_set) & (frame["ablation"] == "") & frame["k_given"].astype(bool)
                   & ~searched(frame)
                   & frame["metric"].isin([m for m, _ in SPLITS])].copy()
    if subset.empty:
        return pd.DataFrame(columns=["protocol", "row", "metric", "mean", "std"])
    subset["row"] = row_labels(subset)
    return subset.groupby(["protocol", "row", "metric"])["value"].agg(
        mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1 else np.nan).reset_index()

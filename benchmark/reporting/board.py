"""Leaderboard tables from the results store (``leaderboard/results/``): markdown (the headline also between
markers in README.md), LaTeX and charts.

LEADERBOARD.md opens with the default protocols (methods in their default configuration, ranked;
``headline.py``), then the other configurations on them, then the protocols of other data, one section
per dataset, then the cross-dataset (``cross_dataset.py``), K-unknown (``k_unknown.py``), fair-comparison
(``fair.py``), open-set (``open_set.py``), what-the-clusters-follow (``factor_tables.py``, from the store's
diagnostics) and ablation sections, and the provenance table last. Each section names the sweep that
regenerates it. Cells come from ``cells.py``; a column never mixes protocol versions or scorer versions.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.core.errors import GFaceError
from benchmark.core.paths import COMMAND
from benchmark.reporting.cells import COLLAPSED, SPLITS, cell, row_labels, searched, versions_note
from benchmark.reporting.cross_dataset import cross_dataset_lines, crossed
from benchmark.reporting.fair import fair_lines
from benchmark.reporting.headline import (chart_protocols, data_label, default_protocols, default_rows,
                                          headline_markdown, headline_table, is_default_config, main_table_rows,
                                          variant_labels)
from benchmark.reporting.k_unknown import k_unknown_lines
from benchmark.reporting.factor_tables import factor_lines
from benchmark.reporting.older_code import older_code_lines
from benchmark.reporting.open_set import open_set_lines
from benchmark.reporting.subject_independent import drop_lines, subject_independent_protocols

README_START, README_END = "<!-- leaderboard:start -->", "<!-- leaderboard:end -->"
REGENERATE = "python run_benchmark.py leaderboard"
COMMITTED_SOURCE = "`leaderboard/results/`"
RUN_KEY = ["protocol", "method", "run_id"]
RUN_SLOT = ["protocol", "method", "params", "ablation", "backbone", "split_seed", "repetition"]  # a run per slot
CELL_KEY = ["protocol", "method", "params", "ablation", "backbone"]
OLDER_LEGEND = "; (code vN) marks a method's runs of an older version of its code (section Runs of older code)"
SWEEP = COMMAND  # every local run uses one CPU thread (benchmark/executors/lanes.py)


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


def pivot(frame: pd.DataFrame, eval_set: str, metrics: list[tuple[str, str, bool]],
          protocols: list[str] | None = None) -> tuple[list[str], list[list]]:
    """Rows = configurations (sorted), columns = protocol x metric; ``metrics`` = (metric, header, percent); only
    ``protocols`` when given. No ablation runs."""
    subset = main_table_rows(frame)
    subset = subset[(subset["eval_set"] == eval_set)
                    & (subset["protocol"].isin(protocols) if protocols is not None else True)].copy()
    if subset.empty:
        return [], []
    subset["row"] = row_labels(subset)
    return labelled_pivot(subset, sorted(subset["row"].unique()), metrics)


def labelled_pivot(subset: pd.DataFrame, order: list[str], metrics) -> tuple[list[str], list[list]]:
    """``subset`` rows carry a ``row`` label; one table row per label of ``order``, columns protocol x metric."""
    subset = subset[subset["metric"].isin([m for m, _, _ in metrics])]
    if subset.empty:
        return [], []
    protocols = sorted(subset["protocol"].unique())
    headers = ["Method"] + [f"{p} {h}" for p in protocols for _, h, _ in metrics]
    rows = []
    for label in order:
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
README_WARNING = ("**These are SynthFACE numbers, on faces this suite generates: they cannot be compared with "
                  "published RAF-DB numbers.**")


def table(headers: list[str], rows: list[list]) -> str:
    return tabulate(rows, headers, tablefmt="github", disable_numparse=True)


def render_markdown(frame: pd.DataFrame, sources: str = COMMITTED_SOURCE,
                    diagnostics: pd.DataFrame | None = None) -> str:
    """LEADERBOARD.md; ``sources`` names what ``frame`` was built from (markdown)."""
    check_consistent(frame)
    older = older_code_lines(frame)
    lines = ["# GFACE-Bench leaderboard", "",
             f"Generated from {sources} ({len(frame.drop_duplicates(RUN_KEY))} runs) by `{REGENERATE}`; do not edit "
             "by hand. Cells: mean ± sample std (n seeds). Accuracies in %, Hungarian-matched; AUROC and FPR@TPR95 "
             "(known = positive) as fractions. † marks a cell with at least one collapsed run (one cluster holds "
             "≥ 90 % of the scored set, D_U or on open-set protocols the pool, or Old accuracy is 0 there)"
             f"{OLDER_LEGEND if older else ''}. Each "
             "section names the sweep that regenerates its runs; then "
             f"`{REGENERATE} --publish --latex` rebuilds the tables."]
    lines += default_section(frame)
    lines += variants_section(frame)
    lines += subject_independent_section(frame)
    lines += other_data_sections(frame)
    lines += _with_command(cross_dataset_lines(frame), frame[crossed(frame)])
    lines += _with_command(k_unknown_lines(frame), frame[~frame["k_given"].astype(bool)])
    lines += _with_command(fair_lines(frame), frame[searched(frame)], search=True)
    lines += _with_command(open_set_lines(frame), frame[frame["open_class"] != ""])
    lines += factor_lines(frame, diagnostics)
    tables = ablation_tables(frame)
    if tables:
        ablated = frame[frame["ablation"] != ""]
        lines += ["", "## Ablations: each loss term removed in turn (D_U, v2 accuracy; ΔAll vs full in points)", "",
                  f"Regenerate: `{sweep_command(ablated, ['--methods', *sorted(ablated['method'].unique()), '--ablate'])}`"]
        for title, (headers, rows) in tables:
            lines += ["", f"### {title}", "", table(headers, rows)]
    lines += older
    lines += provenance_lines(frame)
    return "\n".join(lines) + "\n"


def default_section(frame: pd.DataFrame) -> list[str]:
    rows = default_rows(frame)
    if rows.empty:
        return []
    protocols = default_protocols(frame)
    data = ", ".join(sorted(set(map(data_label, rows["dataset"].unique()))))
    lines = ["", f"## Default protocols: {', '.join(protocols)} ({data}), methods in their default configuration",
             "", f"Regenerate: `{sweep_command(rows, ['--methods', 'all'])}`", "",
             headline_markdown(frame)]
    for title, eval_set, metrics in (("D_U (transductive): All, Old and New", "unlabelled_train", MAIN_METRICS),
                                     ("Test split (inductive): All, Old and New", "test", MAIN_METRICS),
                                     ("D_U: mean class accuracy (v2b), AUROC and FPR@TPR95", "unlabelled_train",
                                      BALANCED_METRICS)):
        headers, body = headline_table(frame, metrics, eval_set)
        if body:
            lines += ["", f"### {title}", "", "Rows in the order of the ranking above.", "", table(headers, body)]
    return lines


def variants_section(frame: pd.DataFrame) -> list[str]:
    """Other configurations (``--set``, ``--budget``) on the default protocols, beside their method's default."""
    subset = main_table_rows(frame)
    subset = subset[subset["protocol"].isin(default_protocols(frame))]
    default = is_default_config(subset)
    variants = subset[~default]
    if variants.empty:
        return []
    subset = subset[subset["method"].isin(variants["method"].unique())].copy()
    subset["row"] = variant_labels(subset, default[subset.index])
    lines = ["", "## Variants and controls on the default protocols", "",
             "Other configurations of a method, named by the parameters that differ from its default configuration "
             "(the row marked default, as ranked above). Regenerate one: "
             f"`{sweep_command(variants, ['--methods', 'METHOD', '--set', 'METHOD.PARAM=VALUE'])}` with the "
             "bracketed parameters."]
    for title, eval_set, metrics in MAIN_SECTIONS:
        headers, rows = labelled_pivot(subset[subset["eval_set"] == eval_set], sorted(subset["row"].unique()), metrics)
        if rows:
            lines += ["", f"### {title}", "", table(headers, rows)]
    return lines


def subject_independent_section(frame: pd.DataFrame) -> list[str]:
    """The subject-independent protocols: the drop from their counterparts, then their own tables."""
    protocols = subject_independent_protocols(main_table_rows(frame))
    if not protocols:
        return []
    runs = frame[frame["protocol"].isin(protocols)]
    lines = ["", f"## Subject-independent protocols: {', '.join(protocols)}", "",
             f"Regenerate: `{sweep_command(runs, ['--methods', 'all'])}`. D_L, D_U and test show disjoint groups of "
             "people (protocols/README.md, \"Subject-independent splits\")."]
    return lines + drop_lines(frame) + main_tables(frame, protocols)


def main_tables(frame: pd.DataFrame, protocols: list[str]) -> list[str]:
    """The ``MAIN_SECTIONS`` tables of ``protocols`` (markdown lines; a table only where it has rows)."""
    lines = []
    for title, eval_set, metrics in MAIN_SECTIONS:
        headers, rows = pivot(frame, eval_set, metrics, protocols)
        if rows:
            lines += ["", f"### {title}", "", table(headers, rows)]
    return lines


def other_data_sections(frame: pd.DataFrame) -> list[str]:
    """One section per dataset of the main-table protocols that are not default (e.g. an older expression model)
    nor subject-independent (their own section)."""
    subset = main_table_rows(frame)
    subset = subset[~subset["protocol"].isin(default_protocols(frame) + subject_independent_protocols(subset))]
    lines = []
    for label, group in sorted(subset.groupby(subset["dataset"].map(data_label)), key=lambda item: item[0]):
        protocols = sorted(group["protocol"].unique())
        lines += ["", f"## {label}: {', '.join(protocols)}", "",
                  f"Regenerate: `{sweep_command(group, ['--methods', 'all'])}` (rows with bracketed parameters: "
                  "add their `--set METHOD.PARAM=VALUE`)."]
        lines += main_tables(frame, protocols)
    return lines


def sweep_command(runs: pd.DataFrame, options: list[str], search: bool = False) -> str:
    """The sweep that plans ``runs``: their protocols (a glob where one selects exactly them), seeds and draws."""
    protocols = sorted(runs["protocol"].unique())
    repetitions = int(runs["repetition"].max()) + 1 if len(runs) else 1
    parts = [SWEEP, *options]
    if sorted(protocols) != sorted(default_protocol_ids()):
        parts += ["--protocols", *protocol_patterns(protocols)]
    if search:
        parts += ["--hparam-search", str(int(runs["hparam_draw"].max()) + 1)]
    if repetitions > 1:
        parts += ["--seeds", str(repetitions)]
    return " ".join(parts)


def default_protocol_ids() -> list[str]:
    from benchmark.plugin_discovery import load_plugins
    load_plugins()
    from benchmark.core.registry import PROTOCOLS
    return [p for p in PROTOCOLS.names() if PROTOCOLS.get(p).default]


def protocol_patterns(protocols: list[str]) -> list[str]:
    """Quoted globs, one per group of ids sharing a prefix, where the glob selects exactly that group among the
    registered protocols; the ids themselves otherwise."""
    from benchmark.core.registry import PROTOCOLS
    registered = set(PROTOCOLS.names())
    if not set(protocols) <= registered or len(protocols) < 3:
        return protocols
    groups: dict[str, list[str]] = {}
    for protocol in protocols:
        groups.setdefault(protocol.rsplit("-", 1)[0], []).append(protocol)
    patterns = []
    for members in groups.values():
        glob = os.path.commonprefix(members) + "*"
        patterns += [f"'{glob}'"] if len(members) > 1 and sorted(PROTOCOLS.names(glob)) == sorted(members) else members
    return patterns


def _with_command(section: list[str], runs: pd.DataFrame, search: bool = False) -> list[str]:
    """``section`` (``["", "## title", ...]``) with its sweep command under the title."""
    if not section:
        return section
    runs = runs[runs["ablation"] == ""]
    return section[:2] + ["", f"Regenerate: `{sweep_command(runs, ['--methods', 'all'], search)}`"] + section[2:]


def provenance_lines(frame: pd.DataFrame) -> list[str]:
    protocols = frame[frame["open_class"] == ""].drop_duplicates("protocol").sort_values("protocol")
    lines = ["", "## Provenance: protocols, versions and run identities", "",
             "Run identity: a hash of the data, backbone weights, method code and scorer versions of a cell's runs "
             "(benchmark/README.md); a column never mixes protocol or scorer versions. Open-set protocols: their own "
             "section.", "",
             "| Protocol | Version | Dataset | Backbone | Scorer | Run identities |", "|---|---|---|---|---|---|"]
    for _, p in protocols.iterrows():
        runs = frame[frame["protocol"] == p["protocol"]]
        backbones = ", ".join(sorted(runs["backbone"].unique()))
        lines.append(f"| {p['protocol']} | {p['protocol_version']} | {p['dataset']} | {backbones} | {p['scorer']} "
                     f"| {versions_note(runs)} |")
    return lines


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


def readme_table(frame: pd.DataFrame) -> str:
    """The README's block: the ranked headline of the default protocols, its legend, set-up line and warning."""
    return headline_markdown(frame, README_WARNING)


def splice_readme(readme: str, table: str) -> str:
    if README_START not in readme or README_END not in readme:
        raise GFaceError(f"README.md lacks the markers {README_START} / {README_END} around the leaderboard table")
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{table}\n{README_END}{tail}"


def chart_rows(frame: pd.DataFrame, eval_set: str = "unlabelled_train") -> pd.DataFrame:
    """Mean and std per (configuration ``row``, protocol, metric) of the main tables, with readable labels, each
    row's ``score`` (its mean All over the default protocols; NaN without all of them) and whether it is a
    ``variant`` (not its method's default configuration)."""
    subset = main_table_rows(frame)
    subset = subset[(subset["eval_set"] == eval_set) & subset["metric"].isin([m for m, _ in SPLITS])
                    & subset["protocol"].isin(chart_protocols(frame))].copy()
    columns = ["protocol", "row", "metric", "mean", "std", "score", "variant"]
    if subset.empty:
        return pd.DataFrame(columns=columns)
    default = is_default_config(subset)
    subset["row"] = variant_labels(subset, default)
    variant = (~default).groupby(subset["row"]).all()
    means = subset.groupby(["protocol", "row", "metric"])["value"].agg(
        mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1 else np.nan).reset_index()
    defaults = default_protocols(frame)
    main = means[(means["metric"] == "all") & means["protocol"].isin(defaults)]
    covered = main.groupby("row")["protocol"].nunique() == len(defaults)
    score = main.groupby("row")["mean"].mean().where(covered)
    means["score"] = means["row"].map(score)
    means["variant"] = means["row"].map(variant)
    return means[columns]

"""The default configuration of each method and the default protocols: the leaderboard's headline.

A run is in its method's *default configuration* when its parameters are those a plain sweep resolves for the
protocol's profile (no ``--set``, ``--budget``, ablation or search draw); a record written before a parameter existed
is judged by the parameters it has. A method this installation does not register counts its only configuration on a
protocol as its default. The *default protocols* are those registered with ``default: true`` (the ones
``--methods all`` runs); a board without any of them (a sweep on other protocols) takes every K-given, closed-set,
unsearched protocol it has instead.
"""
from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd

from benchmark.reporting.cells import COLLAPSED, MISSING, cell, row_labels, searched
from benchmark.reporting.cross_dataset import crossed

EVAL_SET = "unlabelled_train"
YOURS = " (yours)"  # marks a method of the user's runs ranked beside the committed board (yours.py)
OLDER_CODE = " (code v{version})"  # marks a method's runs of an older code version (older_code.py)
MARKS = re.compile(r"(?: \(yours\)| \(code v\d+\))+$")
HEADLINE_METRICS = [("all", "All", True)]
CLOSE = "≈"
RANK_LEGEND = (f"Ranked by Mean All, the mean of All over the default protocols. {CLOSE}: the row's Mean All is "
               f"less than one seed std below the row above's (seed std: the larger of the two rows' sample std over "
               f"seeds of the per-seed Mean All). {COLLAPSED.strip()}: at least one run of the cell collapsed. "
               f"Rows without every default protocol are not ranked (–).")


def registries():
    from benchmark.plugin_discovery import load_plugins
    load_plugins()
    from benchmark.core.registry import DATASETS, METHODS, PROTOCOLS
    return METHODS, PROTOCOLS, DATASETS


def registered_name(method: str) -> tuple[str, str]:
    """(the registered name, the marks) of a method column value such as "kmeans (yours)" or "orca (code v1)"."""
    marks = MARKS.search(method)
    return (method[:marks.start()], marks.group()) if marks else (method, "")


def display_name(method: str) -> str:
    """The name a method's summary opens with ("DIG-FACE: ..."), else its registered name; the mark kept."""
    methods, _, _ = registries()
    name, mark = registered_name(method)
    if name not in methods.names():
        return method
    head, colon, _ = methods.get(name).summary.partition(": ")
    return (head if colon and len(head) <= 24 else name) + mark


def data_label(dataset: str) -> str:
    """A dataset's description, the first clause of its loader's docstring ("SynthFACE, expression model 4")."""
    _, _, datasets = registries()
    if dataset not in datasets.names():
        return dataset
    return ((datasets.get(dataset).__doc__ or "").split(";")[0].strip().rstrip(".") or dataset)


def main_table_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the closed-set, K-given, unsearched, single-dataset protocols without ablations: what the main tables
    show (cross-dataset protocols have their own tables, ``cross_dataset.py``)."""
    return frame[(frame["ablation"] == "") & frame["k_given"].astype(bool) & ~searched(frame)
                 & (frame["open_class"] == "") & ~crossed(frame)]


def default_protocols(frame: pd.DataFrame) -> list[str]:
    _, protocols, _ = registries()
    present = sorted(main_table_rows(frame)["protocol"].unique())
    registered = [p for p in present if p in protocols.names() and protocols.get(p).default]
    return registered or present


def chart_protocols(frame: pd.DataFrame) -> list[str]:
    """The protocols a chart gives a panel: the default ones first, then each other main-table protocol that at
    least half of the default protocols' methods ran (a panel of a few methods is a table's job: LEADERBOARD.md)."""
    rows = main_table_rows(frame)
    defaults = default_protocols(frame)
    methods = rows.groupby("protocol")["method"].nunique()
    enough = methods[defaults].max() / 2 if defaults else 0
    return defaults + sorted(p for p in methods.index if p not in defaults and methods[p] >= enough)


def is_default_config(frame: pd.DataFrame) -> pd.Series:
    """Per row: whether its run is its method's default configuration on its protocol (see the module doc)."""
    from benchmark.method import resolve_params
    from benchmark.protocol import PROFILES
    methods, protocols, _ = registries()
    verdicts = {}
    configs = frame[frame["ablation"] == ""].groupby(["protocol", "method"])["params"].unique()
    for (protocol, column), params in configs.items():
        method = registered_name(column)[0]
        if method not in methods.names():
            verdicts.update({(protocol, column, p): len(params) == 1 for p in params})
            continue
        profiles = [protocols.get(protocol).profile] if protocol in protocols.names() else list(PROFILES)
        defaults = [dataclasses.asdict(resolve_params(method, methods.get(method), profile, {})) for profile in profiles]
        for p in params:
            recorded = json.loads(p)
            verdicts[(protocol, column, p)] = any(
                all(k in default and default[k] == v for k, v in recorded.items()) for default in defaults)
    keys = zip(frame["protocol"], frame["method"], frame["params"])
    return pd.Series([frame_ablation == "" and verdicts.get(key, False)
                      for key, frame_ablation in zip(keys, frame["ablation"])], index=frame.index, dtype=bool)


def default_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The main-table rows of the default protocols in default configuration, ``row`` = the display name."""
    subset = main_table_rows(frame)
    subset = subset[subset["protocol"].isin(default_protocols(frame))]
    subset = subset[is_default_config(subset)].copy()
    subset["row"] = subset["method"].map(display_name) if len(subset) else pd.Series(dtype=str)
    if (subset.groupby("protocol")["backbone"].nunique() > 1).any():
        subset["row"] = subset["row"] + " [" + subset["backbone"] + "]"
    return subset


def ranking(frame: pd.DataFrame) -> pd.DataFrame:
    """Per default-configuration row: ``score`` (Mean All over the default protocols, NaN unless it has all of
    them), ``seed_std`` (sample std over seeds of the per-seed mean over protocols), ``rank`` and ``close``; sorted
    best first, unranked rows last by name."""
    rows = default_rows(frame)
    protocols = default_protocols(frame)
    values = rows[(rows["eval_set"] == EVAL_SET) & (rows["metric"] == "all")]
    out = []
    for label, mine in values.groupby("row"):
        per_protocol = mine.groupby("protocol")["value"].mean()
        complete = set(per_protocol.index) == set(protocols)
        per_seed = mine.pivot_table(index=["split_seed", "repetition"], columns="protocol", values="value").dropna()
        seeds = per_seed.mean(axis=1) if complete else pd.Series(dtype=float)
        out.append({"row": label, "score": per_protocol.mean() if complete else np.nan,
                    "seed_std": seeds.std(ddof=1) if len(seeds) > 1 else np.nan})
    table = pd.DataFrame(out, columns=["row", "score", "seed_std"])
    table = table.sort_values(["score", "row"], ascending=[False, True], na_position="last").reset_index(drop=True)
    ranked = table["score"].notna()
    table["rank"] = np.where(ranked, np.arange(1, len(table) + 1), 0)
    spread = np.fmax(table["seed_std"], table["seed_std"].shift())
    table["close"] = ranked & ranked.shift(fill_value=False) & (table["score"].shift() - table["score"] < spread)
    return table


def headline_table(frame: pd.DataFrame, metrics: list[tuple[str, str, bool]] = HEADLINE_METRICS,
                   eval_set: str = EVAL_SET) -> tuple[list[str], list[list[str]]]:
    """Rank, method, then per default protocol the ``metrics`` cells ((metric, header, percent): mean ± std (n),
    † if a run collapsed), then Mean All; rows in ``ranking`` order. Empty without default-configuration rows."""
    order = ranking(frame)
    if order.empty:
        return [], []
    rows = default_rows(frame)
    rows = rows[(rows["eval_set"] == eval_set) & rows["metric"].isin([m for m, _, _ in metrics])]
    if rows.empty:
        return [], []
    protocols = default_protocols(frame)
    headers = ["Rank", "Method"] + [f"{p} {h}" for p in protocols for _, h, _ in metrics] + ["Mean All"]
    table = []
    for r in order.itertuples(index=False):
        mine = rows[rows["row"] == r.row]
        line = [f"{r.rank}{' ' + CLOSE if r.close else ''}" if r.rank else "–", r.row]
        for protocol in protocols:
            here = mine[mine["protocol"] == protocol]
            flag = COLLAPSED if here["collapsed"].any() else ""
            line += [cell(here.loc[here["metric"] == m, "value"], percent) + flag for m, _, percent in metrics]
        line.append("–" if np.isnan(r.score) else f"{100 * r.score:.1f}")
        table.append(line)
    return headers, table


def setup_line(frame: pd.DataFrame) -> str:
    """The set-up behind the headline, read from its rows: data, backbone, budget, seeds, set and scorer."""
    rows = default_rows(frame)
    if rows.empty:
        return ""
    _, registered, _ = registries()

    def listed(values) -> str:
        return ", ".join(sorted({str(v) for v in values}))

    epochs = sorted({json.loads(p)["epochs"] for p in rows["params"].unique() if "epochs" in json.loads(p)})
    profiles = {registered.get(p).profile for p in rows["protocol"].unique() if p in registered.names()}
    budget = (f"{'–'.join(map(str, sorted({epochs[0], epochs[-1]})))} epochs per learning method"
              + (f" (profile {listed(profiles)})" if profiles else "")) if epochs else "no learning method"
    seeds = rows.drop_duplicates(["protocol", "method", "split_seed", "repetition"])
    repetitions = seeds.groupby(["protocol", "method", "split_seed"])["repetition"].nunique()
    return (f"Set-up: data {listed(map(data_label, rows['dataset'].unique()))}; backbone {listed(rows['backbone'])}; "
            f"budget {budget}; split seeds {listed(rows['split_seed'])} × {listed(repetitions)} repetitions each; "
            f"scored on D_U, the unlabelled training pool (transductive); scorer {listed(rows['scorer'])}.")


def is_generated(dataset: str) -> bool:
    """Whether a dataset's loader says it is generated (SynthFACE), not read from photographs."""
    _, _, datasets = registries()
    return dataset in datasets.names() and "generated" in (datasets.get(dataset).__doc__ or "")


def headline_markdown(frame: pd.DataFrame, warning: str = "") -> str:
    """The ranked table, its legend, the set-up line and, where the data is generated, ``warning``."""
    from tabulate import tabulate
    headers, rows = headline_table(frame)
    if not rows:
        return "No run of a method in its default configuration on the default protocols yet."
    lines = [tabulate(rows, headers, tablefmt="github", disable_numparse=True), "", RANK_LEGEND, "",
             setup_line(frame)]
    generated = warning and any(map(is_generated, default_rows(frame)["dataset"].unique()))
    return "\n".join(lines + (["", warning] if generated else []))


def variant_labels(subset: pd.DataFrame, default: pd.Series) -> pd.Series:
    """Per row: the method's display name, plus, for a method run in several configurations, the parameters that
    differ from its default configuration (or "default"); methods without a default run keep ``row_labels``."""
    reference = {m: json.loads(p) for m, p in subset.loc[default, ["method", "params"]].drop_duplicates("method")
                 .itertuples(index=False)}
    several = set(subset.loc[~default, "method"])
    labels = {}
    for method, params in subset[["method", "params"]].drop_duplicates().itertuples(index=False):
        mine, base = json.loads(params), reference.get(method)
        if base is None:
            continue
        diff = sorted(k for k in set(mine) | set(base) if mine.get(k) != base.get(k))
        shown = ", ".join(f"{k}={mine.get(k, MISSING)}" for k in diff) or "default"
        labels[(method, params)] = f"{display_name(method)} ({shown})" if method in several else display_name(method)
    fallback = row_labels(subset) if len(subset) else pd.Series(dtype=str)
    rows = pd.Series([labels.get((m, p), fallback.get(i)) for i, m, p in
                      zip(subset.index, subset["method"], subset["params"])], index=subset.index, dtype=object)
    if (subset.groupby("protocol")["backbone"].nunique() > 1).any():
        rows = rows.where(rows.str.endswith("]"), rows + " [" + subset["backbone"] + "]")
    return rows

"""The fair-comparison section (protocols/README.md, "Fair comparison"): per family of class partitions, the D_U
accuracy of three choices among each method's hyper-parameter draws, as DomainBed reports them, and how stable the
method ranking is across partitions.

- **defaults**: draw 0, the configuration without a search;
- **selected**: per (partition, seed), the draw with the best accuracy on the held-out labelled validation images
  (``select``); it reads the ``validation`` rows and nothing else;
- **oracle**: per (partition, seed), the draw with the best All on D_U itself, an upper bound no method can reach
  without D_U's labels.

A protocol with ``model_selection: labelled_validation`` and no ``family`` is a family of one.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr
from tabulate import tabulate

from benchmark.protocol import VALIDATION
from benchmark.reporting.cells import COLLAPSED, SPLITS, cell, searched

SLOT = ["protocol", "method", "backbone", "split_seed", "repetition"]  # the draws of one slot compete
RULES = {  # rule -> (evaluation set, metric) whose value picks the draw; None: draw 0
    "defaults": None,
    "selected": (VALIDATION, "all"),
    "oracle": ("unlabelled_train", "all"),
}
TITLES = {"defaults": "defaults (draw 0)", "selected": "selected on held-out labelled images (label-free rule)",
          "oracle": "oracle: best draw on D_U's own labels (upper bound, not a result)"}


def search_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of protocols that select models on held-out labelled images, with a ``family`` for each."""
    subset = frame[searched(frame) & (frame["ablation"] == "")].copy()
    subset["family"] = subset["family"].where(subset["family"] != "", subset["protocol"])
    return subset


def complete_slots(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run (``SLOT + ["run_id", "hparam_draw"]``) of the slots holding as many draws as the method's
    fullest slot."""
    runs = frame.drop_duplicates("run_id")[SLOT + ["run_id", "hparam_draw"]]
    draws = runs.groupby(SLOT)["hparam_draw"].transform("nunique")
    return runs[draws == draws.groupby(runs["method"]).transform("max")]


def select(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """One run per slot, chosen by ``rule``: columns ``SLOT + ["run_id", "hparam_draw"]``.

    The score is read from the rows of the rule's evaluation set and metric only; ties go to the lower draw. Only
    complete slots count: those holding as many draws as the method's fullest slot, so a sweep still running never
    selects among the draws that happen to have finished.
    """
    runs = complete_slots(frame)
    if RULES[rule] is None:
        return runs[runs["hparam_draw"] == 0].reset_index(drop=True)
    eval_set, metric = RULES[rule]
    scores = frame.loc[(frame["eval_set"] == eval_set) & (frame["metric"] == metric), ["run_id", "value"]]
    scored = runs.merge(scores.drop_duplicates("run_id"), on="run_id").dropna(subset=["value"])
    scored = scored.sort_values(["value", "hparam_draw"], ascending=[False, True], kind="stable")
    return scored.drop_duplicates(SLOT)[SLOT + ["run_id", "hparam_draw"]].reset_index(drop=True)


def chosen_values(frame: pd.DataFrame, rule: str, eval_set: str = "unlabelled_train") -> pd.DataFrame:
    """The ``eval_set`` rows of the runs ``rule`` chooses."""
    chosen = select(frame, rule)["run_id"]
    return frame[frame["run_id"].isin(chosen) & (frame["eval_set"] == eval_set)]


def spreads(values: pd.DataFrame) -> tuple[str, str]:
    """(std of the per-partition mean All, mean over partitions of the std of All across seeds), in points."""
    all_rows = values[values["metric"] == "all"]
    means = all_rows.groupby("protocol")["value"].mean()
    seeds = all_rows.groupby("protocol")["value"].std(ddof=1).dropna()
    across_partitions = f"{100 * means.std(ddof=1):.1f}" if len(means) > 1 else "–"
    across_seeds = f"{100 * seeds.mean():.1f}" if len(seeds) else "–"
    return across_partitions, across_seeds


def rule_table(family: pd.DataFrame, rule: str) -> tuple[list[str], list[list[str]]]:
    chosen = select(family, rule)
    values = family[family["run_id"].isin(chosen["run_id"]) & (family["eval_set"] == "unlabelled_train")]
    headers = ["Method"] + [h for _, h in SPLITS] + ["± partitions", "± seeds", "partitions", "draws",
                                                     "draw 0 chosen"]
    rows = []
    for method, mine in sorted(values.groupby("method"), key=lambda item: item[0]):
        draws = family.loc[family["method"] == method, "hparam_draw"].nunique()
        picks = chosen.loc[chosen["method"] == method, "hparam_draw"]
        flag = COLLAPSED if mine["collapsed"].any() else ""
        rows.append([method] + [cell(mine.loc[mine["metric"] == metric, "value"], True) + flag for metric, _ in SPLITS]
                    + list(spreads(mine)) + [str(mine["protocol"].nunique()), str(draws),
                                             f"{(picks == 0).sum()}/{len(picks)}"])
    return headers, rows


def rank_taus(family: pd.DataFrame, rule: str = "selected") -> list[float]:
    """Kendall's tau between the method rankings (mean D_U All over seeds) of every pair of partitions."""
    values = chosen_values(family, rule)
    means = values[values["metric"] == "all"].groupby(["protocol", "method"])["value"].mean().unstack()
    means = means.dropna(axis=1)  # methods present in every partition
    if means.shape[1] < 2:
        return []
    return [float(kendalltau(means.loc[a], means.loc[b]).statistic)
            for a, b in itertools.combinations(means.index, 2)]


def selection_agreement(family: pd.DataFrame) -> pd.Series:
    """Per searched method, Spearman's rho between validation All and D_U All over the draws of a slot, mean over the
    complete slots: how far the label-free rule ranks draws as D_U's labels would (1: the same, <= 0: not at all)."""
    all_rows = family[family["metric"] == "all"]
    scores = all_rows.pivot_table(index="run_id", columns="eval_set", values="value")
    runs = complete_slots(family).join(scores, on="run_id")
    rhos = {}
    for method, mine in runs.groupby("method"):
        per_slot = [spearmanr(slot[VALIDATION], slot["unlabelled_train"]).statistic for _, slot in mine.groupby(SLOT)
                    if slot[VALIDATION].nunique() > 1 and slot["unlabelled_train"].nunique() > 1]  # one draw: undefined
        if per_slot:
            rhos[method] = float(np.mean(per_slot))
    return pd.Series(rhos, dtype=float)


def fair_lines(frame: pd.DataFrame) -> list[str]:
    """Markdown lines of the section, one subsection per family (empty without records of a search protocol)."""
    runs = search_runs(frame)
    if runs.empty:
        return []
    lines = ["", "## Fair comparison: equal search budget, label-free selection, several class partitions", "",
             "D_U accuracy (%, v2) over every (partition, seed): mean ± sample std (n runs); † marks a collapsed run. "
             "`± partitions`: std of the partition means of All; `± seeds`: mean over partitions of the std of All "
             "across seeds (points). "
             "`draws`: configurations searched per slot; `draw 0 chosen`: slots where the rule kept the configuration "
             "without a search (protocols/README.md, \"Fair comparison\")."]
    for name, family in runs.groupby("family"):
        taus = rank_taus(family)
        lines += ["", f"### {name} ({family['protocol'].nunique()} partitions)"]
        for rule in RULES:
            headers, rows = rule_table(family, rule)
            table = tabulate(rows, headers, tablefmt="github", disable_numparse=True)
            lines += ["", f"**{TITLES[rule]}**", "", table]
        lines += ["", "Ranking stability (selected): " + (
            f"Kendall's τ between the method rankings of each pair of partitions, mean {np.mean(taus):.2f}, "
            f"min {np.min(taus):.2f} ({len(taus)} pairs)." if taus else "needs two partitions and two methods.")]
        agreement = selection_agreement(family)
        if not agreement.empty:
            lines += ["", "Selection agreement: Spearman's ρ between validation All and D_U All over the draws of a "
                      "slot, mean over slots (1: the label-free rule ranks draws as D_U's labels would; 0 or below: "
                      "it does not): " + ", ".join(f"{method} {rho:.2f}" for method, rho in agreement.items()) + "."]
    return lines

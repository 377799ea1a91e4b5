"""PNG charts: All/Old/New accuracy per method (one panel per protocol, default protocols first), open-set AUROC per
method (one panel per leave-one-class-out family), the fair comparison's ranks per partition, and what the D_U
clusters follow (AMI with the expression against AMI with the person, from the store's diagnostics).

Each chart is drawn from a small table (``CHARTS``: name -> (data, draw)); the PNG carries that table's digest
(``chart_style.py``), and ``stale_charts`` compares it with the table the records give now.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.reporting.board import SPLITS, chart_rows  # noqa: E402
from benchmark.reporting.chart_style import method_styles, png_metadata, stored_digest, data_digest  # noqa: E402
from benchmark.reporting.factor_tables import factor_records  # noqa: E402
from benchmark.reporting.fair import chosen_values, rank_taus, search_runs  # noqa: E402
from benchmark.reporting.headline import chart_protocols, default_protocols, display_name  # noqa: E402
from benchmark.reporting.open_set import open_set_records  # noqa: E402
from benchmark.reporting.subject_independent import subject_independent_protocols  # noqa: E402


def leaderboard_data(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the main tables: methods in their default configuration first, then variants, each group ranked by
    mean All over the default protocols (best first, rows without them last); protocols with the default ones
    first; ``chance`` = 1/K per protocol; ``note``: default protocol, subject-independent or other data."""
    means = chart_rows(frame)
    if means.empty:
        return means
    defaults = default_protocols(frame)
    rank = means.drop_duplicates("row").sort_values(["variant", "score", "row"], ascending=[True, False, True],
                                                     na_position="last")
    means["row_order"] = means["row"].map({row: i for i, row in enumerate(rank["row"])})
    means["protocol_order"] = means["protocol"].map(lambda p: (p not in defaults, p)).map(
        {key: i for i, key in enumerate(sorted(means["protocol"].map(lambda p: (p not in defaults, p)).unique()))})
    means["chance"] = means["protocol"].map(1 / frame.groupby("protocol")["n_classes"].max())
    independent = subject_independent_protocols(frame)
    means["note"] = means["protocol"].map(lambda p: "default protocol" if p in defaults else
                                          "subject-independent" if p in independent else "other data")
    return means.sort_values(["protocol_order", "row_order", "metric"]).reset_index(drop=True)


def draw_leaderboard(means: pd.DataFrame):
    """Horizontal bars (methods down the side, best on top), panels side by side sharing the rows; error bars only
    where there are several seeds; a dotted line at the chance level 1/K; the legend above the panels."""
    protocols = list(means.drop_duplicates("protocol").sort_values("protocol_order")["protocol"])
    rows = list(means.drop_duplicates("row").sort_values("row_order", ascending=False)["row"])  # bottom to top
    y = np.arange(len(rows))
    height = 0.8 / len(SPLITS)
    colours = {"all": "#1f77b4", "old": "#ff7f0e", "new": "#2ca02c"}
    fig, axes = plt.subplots(1, len(protocols), figsize=(2.5 + 3.6 * len(protocols), 1.6 + 0.32 * len(rows)),
                             squeeze=False, sharey=True)
    for ax, protocol in zip(axes[0], protocols):
        here = means[means["protocol"] == protocol]
        for i, (metric, header) in enumerate(SPLITS):
            values = here[here["metric"] == metric].set_index("row").reindex(rows)
            offset = y + (1 - i) * height
            ax.barh(offset, 100 * values["mean"], height, label=header, color=colours[metric])
            spread = values["std"].notna().to_numpy()
            ax.errorbar(100 * values["mean"][spread], offset[spread], xerr=100 * values["std"][spread], fmt="none",
                        ecolor="black", elinewidth=0.7, capsize=1.5)
        chance = here["chance"].iloc[0]
        if pd.notna(chance):
            ax.axvline(100 * chance, color="grey", linestyle=":", linewidth=1, label="chance (1/K)")
        ax.set_xlim(0, 100)
        ax.set_xlabel("accuracy on D_U (%)")
        ax.set_title(f"{protocol}\n({here['note'].iloc[0]})", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    variants = means.drop_duplicates("row").set_index("row")["variant"].reindex(rows).to_numpy()
    if variants.any() and not variants.all():
        for ax in axes[0]:  # a line between the default configurations (above) and the variants (below)
            ax.axhline(variants.sum() - 0.5, color="black", linewidth=0.8)
    axes[0][0].set_yticks(y, rows, fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("Methods in their default configuration ranked by mean All over the default protocols (best on "
                 "top), then variants below the line; bars: mean, whiskers: std over seeds", fontsize=9, y=0.995 - 0.35 / fig.get_figheight())
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig


def open_set_data(frame: pd.DataFrame) -> pd.DataFrame:
    """AUROC per (dataset, method row, held-out class): the mean over seeds; ``default``: the dataset is that of a
    default protocol."""
    subset = open_set_records(frame)
    subset = subset[subset["metric"] == "auroc"]
    if subset.empty:
        return pd.DataFrame(columns=["dataset", "row", "open_class", "value", "default"])
    subset["row"] = [display_name(m) + row[len(m):] for m, row in zip(subset["method"], subset["row"])]
    means = subset.groupby(["dataset", "row", "open_class"])["value"].mean().reset_index()
    means["default"] = means["dataset"].isin(frame.loc[frame["protocol"].isin(default_protocols(frame)), "dataset"])
    return means


def draw_open_set(per_class: pd.DataFrame):
    """AUROC per method: a bar at the mean over held-out classes, a dot per held-out class; the default data's
    panel first and rows ranked by its mean (best on top)."""
    datasets = sorted(per_class["dataset"].unique(), key=lambda d: (not per_class.loc[per_class["dataset"] == d,
                                                                                        "default"].any(), d))
    ranked_on = per_class[per_class["default"]] if per_class["default"].any() else per_class
    order = ranked_on.groupby("row")["value"].mean().reindex(per_class["row"].unique()).sort_values(
        kind="stable", na_position="first")
    rows = list(order.index)  # bottom to top
    fig, axes = plt.subplots(1, len(datasets), figsize=(2.5 + 4 * len(datasets), 1.4 + 0.3 * len(rows)),
                             squeeze=False, sharey=True)
    for ax, dataset in zip(axes[0], datasets):
        here = per_class[per_class["dataset"] == dataset]
        complete = here.groupby("row")["open_class"].nunique() == here["open_class"].nunique()
        means = here.groupby("row")["value"].mean().where(complete).reindex(rows)  # as the table's Mean column
        ax.barh(np.arange(len(rows)), means, 0.6, color="tab:blue", alpha=0.5, label="mean over held-out classes")
        for y, row in enumerate(rows):
            values = here.loc[here["row"] == row, "value"]
            ax.plot(values, np.full(len(values), y), "k.", markersize=4,
                    label="one held-out class" if y == 0 else None)
        ax.axvline(0.5, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("AUROC, known vs open class (chance 0.5)")
        default = " (default data)" if here["default"].any() else ""
        ax.set_title(f"{dataset}{default}: leave-one-class-out", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(np.arange(len(rows)), rows, fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig


def fair_ranks_data(frame: pd.DataFrame) -> pd.DataFrame:
    """Per family and partition, each method's rank (1 = best mean D_U All of its selected runs) among the methods
    of every partition, with the family's mean Kendall's tau between partitions."""
    runs = search_runs(frame)
    out = []
    for name, family in runs.groupby("family"):
        values = chosen_values(family, "selected")
        means = values[values["metric"] == "all"].groupby(["protocol", "method"])["value"].mean().unstack()
        ranks = means.dropna(axis=1).rank(axis=1, ascending=False)  # methods of every partition, as rank_taus
        taus = rank_taus(family)
        out += [{"family": name, "partition": partition, "method": method, "rank": ranks.at[partition, method],
                 "tau": float(np.mean(taus)) if taus else np.nan}
                for partition in ranks.index for method in ranks.columns]
    return pd.DataFrame(out, columns=["family", "partition", "method", "rank", "tau"])


def draw_fair_ranks(ranks: pd.DataFrame):
    """A line per method (its own colour, marker and dash) through its ranks; the legend right of the panels."""
    families = sorted(ranks["family"].unique())
    styles = method_styles(sorted(ranks["method"].unique()))
    fig, axes = plt.subplots(1, len(families), figsize=(2.2 + 4.5 * len(families), 4.6), squeeze=False)
    for ax, name in zip(axes[0], families):
        family = ranks[ranks["family"] == name]
        partitions = sorted(family["partition"].unique())
        for method, mine in family.groupby("method"):
            mine = mine.set_index("partition").reindex(partitions)
            ax.plot(range(len(partitions)), mine["rank"], linewidth=1.3, markersize=6, label=display_name(method),
                    **styles[method])
        ax.set_xticks(range(len(partitions)), [p.rsplit("-", 1)[-1] for p in partitions])
        ax.set_yticks(range(1, family["method"].nunique() + 1))
        ax.invert_yaxis()
        ax.set_xlabel("partition")
        ax.set_ylabel("rank (selected configuration, mean D_U All)")
        tau = family["tau"].iloc[0]
        ax.set_title(f"{name}\nmean Kendall's τ = {tau:.2f}" if pd.notna(tau) else name, fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1 - 1.7 / fig.get_figwidth(), 0.5), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 1.8 / fig.get_figwidth(), 1))
    return fig


def cluster_factors_data(frame: pd.DataFrame, diagnostics: pd.DataFrame | None) -> pd.DataFrame:
    """Per protocol of ``chart_protocols`` and method row: mean and std over seeds of the AMI of its D_U clusters
    with the annotated expression and with the person (``factor_tables.py``); empty without diagnostics."""
    records = factor_records(frame, diagnostics)
    panels = chart_protocols(frame)
    records = records[(records["metric"] == "ami") & records["factor"].isin(["expression", "identity"])
                      & records["protocol"].isin(panels)]
    if records.empty:
        return pd.DataFrame(columns=["protocol", "row", "method", "factor", "mean", "std"])
    stats = records.groupby(["protocol", "row", "method", "factor"])["value"].agg(["mean", "std"]).reset_index()
    stats["order"] = stats["protocol"].map(panels.index)
    return stats.sort_values(["order", "row", "factor"]).drop(columns="order").reset_index(drop=True)


def draw_cluster_factors(stats: pd.DataFrame):
    """One panel per protocol: a point per method at (AMI with the person, AMI with the expression), whiskers of
    the std where there are several seeds, hollow for a method's non-default configurations; the diagonal marks
    clusters that follow both alike."""
    protocols = list(stats["protocol"].unique())  # in the order of cluster_factors_data: default protocols first
    styles = method_styles(sorted(stats["method"].unique()))
    fig, axes = plt.subplots(1, len(protocols), figsize=(2.4 + 4.2 * len(protocols), 4.4), squeeze=False)
    for ax, protocol in zip(axes[0], protocols):
        here = stats[stats["protocol"] == protocol]
        for (row, method), mine in here.groupby(["row", "method"]):
            point = mine.set_index("factor")
            x, y = point.at["identity", "mean"], point.at["expression", "mean"]
            style = styles[method]
            variant = row.endswith(")") and not row.endswith("(default)")  # another configuration: hollow
            ax.errorbar(x, y, xerr=point.at["identity", "std"], yerr=point.at["expression", "std"],
                        color=style["color"], marker=style["marker"], markersize=7, linestyle="none",
                        markerfacecolor="white" if variant else style["color"], elinewidth=0.7, capsize=1.5,
                        label=row)
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="follows both alike")
        top = max(0.05, float(here["mean"].max()) * 1.15)
        low = min(0.0, float(here["mean"].min()) - 0.01)  # AMI may fall below 0 (chance)
        ax.set_xlim(low, top)
        ax.set_ylim(low, top)
        ax.set_xlabel("AMI of D_U clusters with the person")
        ax.set_ylabel("AMI of D_U clusters with the expression (annotated)")
        ax.set_title(protocol, fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1 - 2.2 / fig.get_figwidth(), 0.5), fontsize=8,
               frameon=False)
    fig.suptitle("What do the clusters follow? Above the diagonal: the expression more than the person", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1 - 2.3 / fig.get_figwidth(), 1))
    return fig


CHARTS = {"leaderboard.png": (leaderboard_data, draw_leaderboard), "openset.png": (open_set_data, draw_open_set),
          "fair_ranks.png": (fair_ranks_data, draw_fair_ranks)}


FACTOR_CHART = "cluster_factors.png"  # drawn from the store's diagnostics beside the long table


def chart_data(frame: pd.DataFrame, diagnostics: pd.DataFrame | None) -> dict[str, tuple[pd.DataFrame, object]]:
    """Per chart file: (the table it plots, its drawing function)."""
    data = {name: (data_of(frame), draw) for name, (data_of, draw) in CHARTS.items()}
    return data | {FACTOR_CHART: (cluster_factors_data(frame, diagnostics), draw_cluster_factors)}


def render_charts(frame: pd.DataFrame, diagnostics: pd.DataFrame | None = None) -> dict[str, bytes]:
    """Every chart the records have data for, as PNG bytes by file name (written by the caller)."""
    charts = {}
    for name, (data, draw) in chart_data(frame, diagnostics).items():
        if data.empty:
            continue
        fig = draw(data)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, metadata=png_metadata(data))
        plt.close(fig)
        charts[name] = buffer.getvalue()
    return charts


def stale_charts(frame: pd.DataFrame, output_dir: Path, diagnostics: pd.DataFrame | None = None) -> list[str]:
    """Charts whose stored data digest differs from the data the records give now (or that are missing)."""
    stale = []
    for name, (data, _) in chart_data(frame, diagnostics).items():
        path = Path(output_dir) / name
        if (not data.empty or path.exists()) and (data.empty or stored_digest(path) != data_digest(data)):
            stale.append(name)
    return stale

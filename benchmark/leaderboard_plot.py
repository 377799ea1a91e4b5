"""PNG charts: All/Old/New accuracy per method (one panel per protocol) and open-set AUROC per method (one panel
per leave-one-class-out family)."""
from __future__ import annotations

from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.leaderboard import SPLITS, summary_means  # noqa: E402
from benchmark.leaderboard_fair import chosen_values, rank_taus, search_runs  # noqa: E402
from benchmark.leaderboard_openset import open_set_records  # noqa: E402


def plot_leaderboard(frame: pd.DataFrame, stream: BinaryIO) -> bool:
    """Horizontal bars (methods down the side, long labels stay readable), panels side by side sharing the rows,
    ranked by All averaged over the protocols (best on top); error bars only where there are several seeds; a dotted
    line at the chance level 1/K of each protocol. Returns False (nothing written) without main-table records."""
    means = summary_means(frame)
    if means.empty:
        return False
    protocols = sorted(means["protocol"].unique())
    ranking = means[means["metric"] == "all"].groupby("row")["mean"].mean()
    rows = sorted(means["row"].unique(), key=lambda row: (ranking.get(row, -1.0), row))  # bottom to top
    y = np.arange(len(rows))
    height = 0.8 / len(SPLITS)
    n_classes = frame.groupby("protocol")["n_classes"].max()
    fig, axes = plt.subplots(1, len(protocols), figsize=(2.5 + 4 * len(protocols), 1.2 + 0.45 * len(rows)),
                             squeeze=False, sharey=True)
    for ax, protocol in zip(axes[0], protocols):
        here = means[means["protocol"] == protocol]
        for i, (metric, header) in enumerate(SPLITS):
            values = here[here["metric"] == metric].set_index("row").reindex(rows)
            offset = y + (1 - i) * height
            bars = ax.barh(offset, 100 * values["mean"], height, label=header)
            spread = values["std"].notna().to_numpy()
            ax.errorbar(100 * values["mean"][spread], offset[spread], xerr=100 * values["std"][spread], fmt="none",
                        ecolor="black", elinewidth=0.8, capsize=2, color=bars.patches[0].get_facecolor())
        if pd.notna(n_classes.get(protocol)):
            ax.axvline(100 / n_classes[protocol], color="grey", linestyle=":", linewidth=1,
                       label="chance (1/K)" if ax is axes[0][-1] else None)
        ax.set_xlim(0, 100)
        ax.set_xlabel("accuracy on D_U (%), mean ± std over seeds")
        ax.set_title(protocol)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, rows, fontsize=8)
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(stream, format="png", dpi=110)
    plt.close(fig)
    return True


def plot_open_set(frame: pd.DataFrame, stream: BinaryIO) -> bool:
    """AUROC per method: a bar at the mean over held-out classes, a dot per held-out class (its mean over seeds).
    Returns False (nothing written) without open-set records."""
    subset = open_set_records(frame)
    subset = subset[subset["metric"] == "auroc"]
    if subset.empty:
        return False
    per_class = subset.groupby(["dataset", "row", "open_class"])["value"].mean().reset_index()
    datasets = sorted(per_class["dataset"].unique())
    rows = sorted(per_class["row"].unique(), reverse=True)
    fig, axes = plt.subplots(1, len(datasets), figsize=(2.5 + 4 * len(datasets), 1.2 + 0.35 * len(rows)),
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
        ax.set_title(f"{dataset}: leave-one-class-out", pad=24)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(np.arange(len(rows)), rows, fontsize=8)
    axes[0][-1].legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(stream, format="png", dpi=110)
    plt.close(fig)
    return True


def plot_fair_ranks(frame: pd.DataFrame, stream: BinaryIO) -> bool:
    """Per partition family, each method's rank (1 = best mean D_U All of its selected runs) in every partition, with
    the mean Kendall's tau between partitions. Returns False (nothing written) without fair-comparison records."""
    runs = search_runs(frame)
    if runs.empty:
        return False
    families = sorted(runs["family"].unique())
    colours = {m: plt.get_cmap("tab20")((2 * i) % 20 + (2 * i) // 20 % 2)  # the ten dark colours first
               for i, m in enumerate(sorted(runs["method"].unique()))}
    fig, axes = plt.subplots(1, len(families), figsize=(1 + 4.5 * len(families), 4.2), squeeze=False)
    for ax, name in zip(axes[0], families):
        family = runs[runs["family"] == name]
        values = chosen_values(family, "selected")
        means = values[values["metric"] == "all"].groupby(["protocol", "method"])["value"].mean().unstack()
        ranks = means.dropna(axis=1).rank(axis=1, ascending=False)  # methods of every partition, as rank_taus
        partitions = list(ranks.index)
        for method in ranks.columns:
            ax.plot(range(len(partitions)), ranks[method], marker="o", linewidth=1.2, color=colours[method],
                    label=method)
        taus = rank_taus(family)
        ax.set_xticks(range(len(partitions)), [p.rsplit("-", 1)[-1] for p in partitions])
        ax.set_yticks(range(1, ranks.shape[1] + 1))
        ax.invert_yaxis()
        ax.set_xlabel("partition")
        ax.set_ylabel("rank (selected configuration, mean D_U All)")
        ax.set_title(f"{name}\nmean Kendall's τ = {np.mean(taus):.2f}" if taus else name, fontsize=9)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colour, marker="o", label=method) for method, colour in colours.items()]
    axes[0][-1].legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(stream, format="png", dpi=110)
    plt.close(fig)
    return True

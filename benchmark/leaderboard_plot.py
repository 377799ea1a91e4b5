"""A PNG chart of All/Old/New accuracy per method, one panel per protocol."""
from __future__ import annotations

from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.leaderboard import SPLITS, summary_means  # noqa: E402


def plot_leaderboard(frame: pd.DataFrame, stream: BinaryIO) -> None:
    means = summary_means(frame)
    protocols = sorted(means["protocol"].unique())
    fig, axes = plt.subplots(1, len(protocols), figsize=(5.5 * len(protocols), 4), squeeze=False)
    width = 0.8 / len(SPLITS)
    for ax, protocol in zip(axes[0], protocols):
        here = means[means["protocol"] == protocol]
        rows = sorted(here["row"].unique())
        x = np.arange(len(rows))
        for i, (metric, header) in enumerate(SPLITS):
            values = here[here["metric"] == metric].set_index("row").reindex(rows)
            ax.bar(x + (i - 1) * width, 100 * values["mean"], width, yerr=100 * values["std"].fillna(0),
                   label=header, capsize=3)
        ax.set_xticks(x, rows, rotation=30, ha="right")
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy on D_U (%)")
        ax.set_title(protocol)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(stream, format="png", dpi=110)
    plt.close(fig)

"""What makes the charts readable at a glance: one style per method, the same in every chart, and a digest of the
data each chart plots, stored in the PNG, so that ``leaderboard --check`` sees a chart gone stale without drawing it.

A style is a colour, a marker and a dash pattern together: 14 colours and 14 markers, so each of the first 14
methods has a colour and a marker of its own; from the 15th the colours repeat with another marker (shifted by 5
per round) and another dash pattern, so no two methods share colour, marker and dash.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#000000", "#e6ab02", "#000080", "#ff00ff")  # matplotlib's tab10, black, mustard, navy, magenta
MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "<", ">", "p", "d", "H")
DASHES = ("-", "--", "-.", ":")
DIGEST_KEY = "Description"  # the PNG text chunk holding the plotted data's digest
DIGEST_PREFIX = "plotted-data-sha256 "


def method_styles(methods) -> dict[str, dict]:
    """Per method: ``color``, ``marker`` and ``linestyle``, fixed by its place among every registered method (and
    the given ones), so a method looks the same in every chart."""
    from benchmark.plugin_discovery import load_plugins
    load_plugins()
    from benchmark.core.registry import METHODS
    everyone = sorted(set(METHODS.names()) | set(methods))
    return {m: {"color": COLOURS[i % len(COLOURS)], "marker": MARKERS[(i + 5 * (i // len(COLOURS))) % len(MARKERS)],
                "linestyle": DASHES[i // len(COLOURS) % len(DASHES)]}
            for i, m in enumerate(everyone) if m in set(methods)}


def data_digest(data: pd.DataFrame) -> str:
    """SHA-256 of the plotted values, rounded as the CSV files round them."""
    return hashlib.sha256(data.to_csv(index=False, float_format="%.6f").encode()).hexdigest()


def png_metadata(data: pd.DataFrame) -> dict[str, str]:
    """``savefig(..., metadata=...)`` for a chart of ``data``."""
    return {DIGEST_KEY: DIGEST_PREFIX + data_digest(data)}


def stored_digest(path: Path) -> str | None:
    """The plotted data's digest a chart written by ``png_metadata`` carries, or None."""
    from PIL import Image
    try:
        with Image.open(path) as image:
            text = image.info.get(DIGEST_KEY, "")
    except OSError:
        return None
    return text[len(DIGEST_PREFIX):] if text.startswith(DIGEST_PREFIX) else None

"""Your runs ranked beside the committed board (``leaderboard --with-committed``).

The committed rows of a protocol join yours only where the run identities say the numbers are comparable: the same
protocol version, scorer, backbone and split (``split_sha256`` per split seed), and at least one of your runs on it
carries the run identity of a committed run (same data, backbone weights, scorer and method version; see
``collect.py``, ``versions_key``). A protocol that fails either test keeps your rows alone, and the reason
is named. Your methods are marked ``(yours)`` in every table and chart.
"""
from __future__ import annotations

import pandas as pd

from benchmark.reporting.headline import YOURS


def with_committed(yours: pd.DataFrame, committed: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(your rows, marked, plus the matching committed rows; the protocols joined; one reason per protocol kept
    apart)."""
    marked = yours.assign(method=yours["method"] + YOURS)
    joined, apart = [], []
    for protocol, mine in yours.groupby("protocol"):
        theirs = committed[committed["protocol"] == protocol]
        reason = mismatch(mine, theirs)
        if reason:
            apart.append(f"{protocol}: {reason}")
        else:
            joined.append(theirs)
    frames = [marked] + joined
    return (pd.concat(frames, ignore_index=True), sorted({f["protocol"].iloc[0] for f in joined}), apart)


def mismatch(mine: pd.DataFrame, theirs: pd.DataFrame) -> str:
    """Why the committed runs ``theirs`` of a protocol cannot be ranked beside ``mine`` ("" if they can)."""
    if theirs.empty:
        return "no committed runs"
    for column, what in (("protocol_version", "protocol version"), ("scorer", "scorer"), ("backbone", "backbone")):
        if set(mine[column].astype(str)) != set(theirs[column].astype(str)):
            return (f"{what} {', '.join(sorted(set(mine[column].astype(str))))} here, "
                    f"{', '.join(sorted(set(theirs[column].astype(str))))} committed")
    splits = pd.concat([mine, theirs]).groupby("split_seed")["split_sha256"].nunique()
    if (splits > 1).any():
        return f"a different split for split seed {splits[splits > 1].index[0]} (other data or protocol classes)"
    if not set(mine["versions"].astype(str)) & set(theirs["versions"].astype(str)) - {""}:
        return ("none of your runs has the run identity of a committed run (other data, backbone weights or "
                "scorer, or only method versions the board does not have); compare "
                f"{', '.join(sorted(set(mine['versions'])))} with the committed "
                f"{', '.join(sorted(set(theirs['versions'])))} in LEADERBOARD.md's provenance table")
    return ""

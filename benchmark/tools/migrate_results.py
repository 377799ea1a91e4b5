"""Convert the old single-file results table, FOLDER/results.csv, into the results store FOLDER/results/, once.

    python -m benchmark.tools.migrate_results leaderboard          # the committed one (then commit both changes)
    python -m benchmark.tools.migrate_results runs/leaderboard     # a sweep's local one

The store is read back and compared with the old file, value by value (NaNs equal, types too), before the old file
is removed; on any difference nothing is removed and the command fails.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from benchmark.core.errors import GFaceError
from benchmark.reporting.store import STORE_FILE, read_results, write_results
from benchmark.reporting.store_legacy import read_legacy_csv


def migrate(folder: Path) -> int:
    """Converts ``folder/results.csv`` into ``folder/results/`` and removes it; the number of runs converted."""
    legacy, store = Path(folder) / "results.csv", Path(folder) / "results"
    if not legacy.is_file():
        raise GFaceError(f"{legacy} is not a file; pass the folder that holds the old results.csv")
    if (store / STORE_FILE).exists():
        raise GFaceError(f"{store} already holds a results store; move it away first if {legacy} should replace it")
    frame = read_legacy_csv(legacy)
    write_results(frame, store)
    back = read_results(store)
    key = ["protocol", "method", "run_id", "eval_set", "metric"]
    expected, got = (f.sort_values(key, kind="stable").reset_index(drop=True) for f in (frame, back))
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    except AssertionError as exc:
        raise GFaceError(f"{store} does not read back as {legacy} ({str(exc).splitlines()[0]}); {legacy} is kept") \
            from exc
    legacy.unlink()
    return len(frame.drop_duplicates(["protocol", "method", "run_id"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.migrate_results", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="the folder holding results.csv (leaderboard, runs/leaderboard)")
    args = parser.parse_args(argv)
    try:
        runs = migrate(args.folder)
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{runs} runs converted into {args.folder / 'results'}/; {args.folder / 'results.csv'} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

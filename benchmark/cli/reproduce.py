"""``reproduce``: the sweeps behind the committed board (``leaderboard/sweeps.yaml``): list them, or run one."""
from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.common import Parser
from benchmark.cli.run import build_run_parser, plan_specs, run_command
from benchmark.core.errors import GFaceError
from benchmark.core.paths import COMMAND, DEFAULT_RUNS_DIR, LEADERBOARD_DIR


def build_reproduce_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{COMMAND} reproduce", description="The sweeps behind the committed board (leaderboard/sweeps.yaml) "
        "and the recipes of the real-data boards (leaderboard/recipes.yaml): list them with their run counts and "
        "costs, or run one. Options after --run NAME other than the sweep's own "
        "(--executor, --lanes, --cache-dir, --dry-run, ...) go to the run command.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true",
                        help="every sweep: runs, runs on the board, those of older method code, cost, command")
    action.add_argument("--run", metavar="NAME", help="run this sweep (resumable, like any sweep)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                        help="where run folders are (--list: the median wall time of the records found there)")
    return parser


def sweep_specs(sweep) -> list:
    """The runs a sweep of ``leaderboard/sweeps.yaml`` plans."""
    return plan_specs(build_run_parser().parse_args(sweep.argv))


def reproduce_command(args: argparse.Namespace, passed: list[str]) -> int:
    from benchmark.plugin_discovery import load_plugins
    from benchmark.reproduce import check_passed_options, list_recipes, list_sweeps, load_recipes, load_sweeps, \
        sweep_named
    sweeps, recipes = load_sweeps(), load_recipes()
    if args.run:
        sweep = sweep_named(args.run, sweeps + recipes)
        check_passed_options(passed, sweep)
        print(f"sweep {sweep.name}: {COMMAND} {sweep.command}")
        return run_command(build_run_parser().parse_args([*sweep.argv, "--runs-dir", str(args.runs_dir), *passed]))
    if passed:
        raise GFaceError(f"reproduce --list takes no other options (got {' '.join(passed)})")
    from benchmark.reporting.board import RUN_SLOT
    from benchmark.reporting.store import read_results
    load_plugins()
    from benchmark.reporting.older_code import is_older_code
    runs = read_results(LEADERBOARD_DIR / "results").drop_duplicates(["protocol", "method", "run_id"])

    def slots(frame) -> set[tuple]:
        return {tuple(row[:5]) + (int(row[5]), int(row[6])) for row in frame[RUN_SLOT].itertuples(index=False)}

    print(list_sweeps(sweeps, sweep_specs, slots(runs), args.runs_dir, slots(runs[is_older_code(runs)])))
    print()
    print(list_recipes(recipes, sweep_specs, args.runs_dir))
    return 0

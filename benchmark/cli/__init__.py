"""Command line: run a sweep (default), list or show registered names, tabulate results, fetch backbone weights,
reproduce the committed board. One module per subcommand (``run.py``, ``leaderboard.py``, ``weights.py``,
``reproduce.py``); this one dispatches and turns every user mistake into one ``error:`` line."""
from __future__ import annotations

import sys

from benchmark.cli.leaderboard import build_leaderboard_parser, leaderboard_command
from benchmark.cli.reproduce import build_reproduce_parser, reproduce_command
from benchmark.cli.run import build_run_parser, run_command
from benchmark.cli.weights import build_weights_parser, weights_command
from benchmark.core.errors import GFaceError


def main(argv: list[str] | None = None) -> int:
    from benchmark.output import configure_console, silence_broken_pipe
    argv = sys.argv[1:] if argv is None else argv
    configure_console()
    try:
        if argv[:1] == ["leaderboard"]:
            status = leaderboard_command(build_leaderboard_parser().parse_args(argv[1:]))
        elif argv[:1] == ["weights"]:
            status = weights_command(build_weights_parser().parse_args(argv[1:]))
        elif argv[:1] == ["reproduce"]:
            status = reproduce_command(*build_reproduce_parser().parse_known_args(argv[1:]))
        else:
            status = run_command(build_run_parser().parse_args(argv))
        sys.stdout.flush()  # here, so that a closed pipe (``| head``) is caught below
        return status
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PermissionError as exc:  # a folder that changed hands after the preflight's check
        print(f"error: {exc.filename or exc}: permission denied; make it writable for this user, or pass another "
              f"--cache-dir or --runs-dir", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return silence_broken_pipe()

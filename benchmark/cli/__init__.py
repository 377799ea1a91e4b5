"""Command line: run a sweep (default), list registered names, or regenerate the leaderboard."""
from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from pathlib import Path

from benchmark.core import atomic
from benchmark.core.errors import GFaceError
from benchmark.executors import EXECUTORS
from benchmark.core.paths import DEFAULT_RUNS_DIR, LEADERBOARD_DIR, REPO_ROOT, default_cache_dir

EPILOG = """\
examples:
  python run_benchmark.py --methods all                  every method on the embedded SynthFACE protocols
  python run_benchmark.py --methods ss-kmeans --protocols rafdb-basic --data-root ~/fer --seeds 3
  python run_benchmark.py --methods 'ss-*' --set ss-kmeans.n_init=20 --dry-run
  python run_benchmark.py --methods digface --ablate     full DIG-FACE plus each loss term removed in turn
  python run_benchmark.py --list protocols
  python run_benchmark.py leaderboard [--check] [--latex]   rebuild tables from run records
  python run_benchmark.py --methods 'ss-*' --executor local-gpus       one worker per visible GPU
  python run_benchmark.py --methods all --executor submitit --cluster-config slurm.yaml   Slurm job array
  torchrun --nproc_per_node=4 run_benchmark.py --methods gcd             one run on 4 GPUs (DDP)

Runs are idempotent: runs/<protocol>/<method>/<run_id>/ holds spec.json, log.txt, record.json and a done marker;
re-running skips finished runs and re-runs killed ones. Real datasets are never downloaded: put them under
--data-root (see datasets/README.md). Scaling out (executors, torchrun): "Scaling out" in README.md."""


def build_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_benchmark.py", description="GFACE-Bench: generalized facial-expression category discovery.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["all"], metavar="NAME",
                        help="method names or globs ('all' = every registered method; default: all)")
    parser.add_argument("--protocols", nargs="+", metavar="ID",
                        help="protocol ids or globs (default: the embedded SynthFACE protocols)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="repetitions per split seed, each with its own derived training seed (default: 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                        help="override a method parameter, e.g. --set ss-kmeans.n_init=20 (repeatable)")
    parser.add_argument("--ablate", action="store_true",
                        help="also run, for each selected method that declares loss terms, one configuration per "
                             "term with that term's weight set to 0 (an 'Ablations' table in LEADERBOARD.md)")
    parser.add_argument("--profile", choices=["paper", "cpu"],
                        help="parameter profile (default: the protocol's; 'cpu' on the embedded protocols)")
    parser.add_argument("--data-root", type=Path, help="folder holding the real datasets (or $GFACE_DATA_ROOT)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders go")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="features, image arrays, backbone weights (default: $GFACE_CACHE_DIR or ./.cache)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:N")
    parser.add_argument("--executor", choices=list(EXECUTORS), default="local",
                        help="where runs execute: " + "; ".join(f"{k}: {v}" for k, v in EXECUTORS.items()))
    parser.add_argument("--cluster-config", type=Path, metavar="FILE.yaml",
                        help="--executor submitit: cluster, partition, account, time_min, gpus_per_job, "
                             "array_parallelism, setup lines (example in benchmark/executors/cluster_config.py)")
    parser.add_argument("--detach", action="store_true",
                        help="--executor submitit: submit and return; the same command later skips queued and "
                             "done runs, waits for the rest and rebuilds the leaderboard")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the whole plan (data, classes, weights, device, parameters) as a sweep does "
                             "before its first run, print it with done/stale/pending counts and stop")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="keep each finished run's training checkpoints (deleted by default)")
    parser.add_argument("--no-leaderboard", action="store_true", help="do not rebuild the leaderboard at the end")
    parser.add_argument("--list", choices=["methods", "datasets", "protocols", "backbones"],
                        help="list registered names and exit")
    return parser


def build_leaderboard_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_benchmark.py leaderboard",
        description="Merge the run records (if any) into leaderboard/results.csv, then rebuild LEADERBOARD.md, "
                    "the README table and the charts leaderboard/leaderboard.png (and openset.png) from it.")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders are")
    parser.add_argument("--check", action="store_true",
                        help="exit non-zero if LEADERBOARD.md or the README table differ from results.csv")
    parser.add_argument("--latex", action="store_true", help="also write leaderboard/leaderboard.tex (booktabs)")
    parser.add_argument("--rebuild", action="store_true",
                        help="results.csv from the records under --runs-dir alone (default: those records replace "
                             "their own runs' rows and the rows of other runs are kept)")
    parser.add_argument("--output-dir", type=Path, default=LEADERBOARD_DIR,
                        help="where results.csv, LEADERBOARD.md and the chart live (default: leaderboard/)")
    parser.add_argument("--readme", type=Path, default=REPO_ROOT / "README.md",
                        help="README whose table between the leaderboard markers is kept in sync")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("gface").setLevel(logging.INFO)
    try:
        if argv[:1] == ["leaderboard"]:
            return leaderboard_command(build_leaderboard_parser().parse_args(argv[1:]))
        return run_command(build_run_parser().parse_args(argv))
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 130


def run_command(args: argparse.Namespace) -> int:
    from benchmark.plan import expand, is_done, stale_runs
    from benchmark.plugins import load_plugins
    from benchmark.core.registry import BACKBONES, DATASETS, METHODS, PROTOCOLS

    load_plugins()
    if args.list:
        registry = {"methods": METHODS, "datasets": DATASETS, "protocols": PROTOCOLS, "backbones": BACKBONES}
        print(list_names(args.list, registry[args.list]))
        return 0
    if args.seeds < 1:
        raise GFaceError(f"--seeds {args.seeds}: need at least 1 repetition")
    from benchmark.method import parse_overrides
    specs = expand(args.methods, args.protocols, args.seeds, parse_overrides(args.overrides), args.profile,
                   args.ablate)
    from benchmark import distributed
    from benchmark.device import resolve_device
    from benchmark.executors import execute
    from benchmark.executors.job import Settings
    from benchmark.preflight import preflight
    main_process = os.environ.get("RANK", "0") == "0"  # torchrun numbers its processes
    device = args.device
    if distributed.launched_by_torchrun():
        if args.executor != "local":
            raise GFaceError(f"under torchrun every process runs the sweep itself: drop --executor {args.executor}")
        device = str(distributed.init_from_env(resolve_device(args.device)))
    settings = Settings(args.runs_dir, args.cache_dir or default_cache_dir(), args.data_root, device,
                        args.keep_checkpoints)
    env = settings.environment()
    specs = preflight(specs, env)
    done = [s for s in specs if is_done(s, args.runs_dir)]
    if main_process:
        print(plan_table(specs, args.runs_dir))
        stale = sum(bool(stale_runs(s, args.runs_dir)) for s in specs if s not in done)
        print(f"{len(specs)} runs: {len(done)} done, {len(specs) - len(done)} pending"
              + (f" ({stale} of them replace stale records: their data, weights or code changed)" if stale else ""))
    if args.dry_run:
        return 0
    result = execute(args.executor, specs, settings, args.cluster_config, args.detach, env)
    if not main_process:
        return 1 if result.failed else 0
    queued = f", queued {len(result.queued)} (run the same command again to collect them)" if result.queued else ""
    print(f"ran {len(result.ran)}, skipped {len(result.skipped)} already done, failed {len(result.failed)}{queued}")
    for spec, message in result.failed:
        print(f"  FAILED {spec.protocol.id}/{spec.method}/{spec.run_id}: {message} (traceback in "
              f"{spec.folder(args.runs_dir) / 'log.txt'})", file=sys.stderr)
    if not args.no_leaderboard:
        leaderboard_command(build_leaderboard_parser().parse_args(["--runs-dir", str(args.runs_dir)]))
    return 1 if result.failed else 0


def leaderboard_command(args: argparse.Namespace) -> int:
    from benchmark.leaderboard import RUN_SLOT, main_table, render_latex, render_markdown, splice_readme
    from benchmark.results import collect_records, merge_results, read_results, write_results

    results_csv = args.output_dir / "results.csv"
    markdown_path, readme_path = args.output_dir / "LEADERBOARD.md", args.readme
    if args.check:
        frame = read_results(results_csv)
        stale = [p.name for p, text in ((markdown_path, render_markdown(frame)),
                                        (readme_path, splice_readme(readme_path.read_text(), main_table(frame))))
                 if not p.exists() or p.read_text() != text]
        if stale:
            print(f"stale: {', '.join(stale)} differ from {results_csv}; run: python run_benchmark.py leaderboard",
                  file=sys.stderr)
            return 1
        print(f"leaderboard is up to date with {results_csv}")
        return 0
    frame = collect_records(args.runs_dir)
    if frame.empty:
        frame = read_results(results_csv)
        print(f"no run records under {args.runs_dir}; rendering the committed {results_csv.name}")
    else:
        if results_csv.exists() and not args.rebuild:
            frame = merge_results(read_results(results_csv), frame, RUN_SLOT)
        write_results(frame, results_csv)
        frame = read_results(results_csv)  # render exactly what --check will read back
    markdown = render_markdown(frame)
    atomic.write_text(markdown_path, markdown)
    atomic.write_text(readme_path, splice_readme(readme_path.read_text(), main_table(frame)))
    from benchmark.leaderboard_plot import plot_leaderboard, plot_open_set
    buffer = io.BytesIO()
    plot_leaderboard(frame, buffer)
    atomic.write_bytes(args.output_dir / "leaderboard.png", buffer.getvalue())
    buffer = io.BytesIO()
    if plot_open_set(frame, buffer):
        atomic.write_bytes(args.output_dir / "openset.png", buffer.getvalue())
    if args.latex:
        atomic.write_text(args.output_dir / "leaderboard.tex", render_latex(frame))
    print(markdown)
    return 0


def list_names(kind: str, registry) -> str:
    """One line per registered name with a short description."""
    return f"{kind}:\n" + "\n".join(f"  {name:<22} {describe_entry(registry.get(name))}" for name in registry.names())


def describe_entry(obj) -> str:
    from benchmark.protocol import Protocol
    if isinstance(obj, Protocol):
        return f"{obj.dataset}: {len(obj.known)} known / {len(obj.new)} new{' (default)' if obj.default else ''}"
    doc = (getattr(obj, "summary", "") or obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def plan_table(specs, runs_dir: Path) -> str:
    from tabulate import tabulate

    from benchmark.plan import is_done, stale_runs
    counts: dict[tuple[str, str], list[int]] = {}
    for spec in specs:
        entry = counts.setdefault((spec.protocol.id, spec.method), [0, 0, 0])
        if is_done(spec, runs_dir):
            entry[0] += 1
        else:
            entry[1 if stale_runs(spec, runs_dir) else 2] += 1
    rows = [[p, m, d, s, q] for (p, m), (d, s, q) in counts.items()]
    return tabulate(rows, ["protocol", "method", "done", "stale", "pending"], tablefmt="simple")

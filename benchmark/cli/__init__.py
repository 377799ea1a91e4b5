"""Command line: run a sweep (default), list or show registered names, tabulate results, fetch backbone weights."""
from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from benchmark.core import atomic
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.text_files import read_text
from benchmark.executors import EXECUTORS
from benchmark.protocol import PROFILES
from benchmark.core.paths import COMMAND, DEFAULT_RUNS_DIR, LEADERBOARD_DIR, LOCAL_LEADERBOARD, REPO_ROOT, default_cache_dir

USAGE = f"""{COMMAND} [options]                 run a sweep (options below)
       {COMMAND} leaderboard [--publish] [--check] [--latex]   tabulate run records (leaderboard --help)
       {COMMAND} weights list|fetch NAME     backbone weight files (weights --help)
       {COMMAND} reproduce --list | --run NAME [options]   the sweeps behind the committed board"""
EPILOG = """\
examples:
  python run_benchmark.py --methods all                  every method on the embedded SynthFACE protocols
  python run_benchmark.py --methods ss-kmeans --protocols rafdb-basic --data-root ~/fer --seeds 3
  python run_benchmark.py --methods 'ss-*' --set ss-kmeans.n_init=20 --dry-run
  python run_benchmark.py --methods digface --ablate     full DIG-FACE plus each loss term removed in turn
  python run_benchmark.py --list protocols
  python run_benchmark.py --methods kmeans --protocols ~/my-faces.yaml    a protocol file of your own
  python run_benchmark.py --methods kmeans --protocols rafdb-basic --backbones vit_b16_dino resnet18_imagenet
  python run_benchmark.py --show ss-kmeans               parameters, paper defaults, profiles
  python run_benchmark.py leaderboard [--latex]          local tables from run records (runs/leaderboard/)
  python run_benchmark.py leaderboard --with-committed   your runs ranked beside the committed board's
  python run_benchmark.py weights fetch vit_b16_dino     download and verify official weights (only when asked)
  python run_benchmark.py reproduce --list               the sweeps behind the committed board (reproduce --run NAME)
  python run_benchmark.py --methods all --lanes 1        one run after another in this process (default: one per core)
  python run_benchmark.py --methods 'ss-*' --executor local-gpus       one worker per visible GPU
  python run_benchmark.py --methods all --executor submitit --cluster-config slurm.yaml   Slurm job array
  torchrun --nproc_per_node=4 run_benchmark.py --methods gcd             one run on 4 GPUs (DDP)

Runs are idempotent: runs/<protocol>/<method>/<run_id>/ holds spec.json, log.txt, record.json and a done marker;
re-running skips finished runs and re-runs killed ones; after a sweep the local tables are in runs/leaderboard/
(the committed leaderboard/ changes only with `leaderboard --publish`). Real datasets are never downloaded: put
them under --data-root (see datasets/README.md). Scaling out (executors, torchrun): "Scaling out" in README.md."""


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes end, like every other user mistake, in one ``error:`` line (exit status 2).

    Abbreviated options are refused (``--seed 3`` would otherwise run as ``--seeds 3``); the error suggests the
    option meant."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        options = [option for action in self._actions for option in action.option_strings]
        unknown = message.partition("unrecognized arguments:")[2].split()
        close = sorted({match for word in unknown if word.startswith("-")
                        for match in difflib.get_close_matches(word.split("=")[0], options, n=1)})
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise GFaceError(f"{self.prog}: {message}{hint}; see {self.prog} --help")


def build_run_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=COMMAND, usage=USAGE, description="GFACE-Bench: generalized facial-expression category discovery.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["all"], metavar="NAME",
                        help="method names or globs ('all' = every registered method; default: all)")
    parser.add_argument("--protocols", nargs="+", metavar="ID",
                        help="protocol ids, globs or paths of protocol files (FILE.yaml, may declare its own "
                             "dataset: protocols/README.md; default: the embedded SynthFACE protocols)")
    parser.add_argument("--backbones", nargs="+", metavar="NAME",
                        help="run every selected run on each of these backbones (names or globs; default: each "
                             "protocol's own backbone)")
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=PATH",
                        help="use this weight file for backbone NAME (repeatable; see `weights list`)")
    parser.add_argument("--plugins", nargs="+", default=[], type=Path, metavar="DIR",
                        help="folders whose *.py files register methods, datasets or backbones and whose *.yaml "
                             "files are protocols (also $GFACE_PLUGINS, separated by ':')")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="repetitions per split seed, each with its own derived training seed (default: 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                        help="override a method parameter, e.g. --set ss-kmeans.n_init=20 (repeatable)")
    parser.add_argument("--ablate", action="store_true",
                        help="also run, for each selected method that declares loss terms, one configuration per "
                             "term with that term's weight set to 0 (an 'Ablations' table in LEADERBOARD.md)")
    parser.add_argument("--hparam-search", type=int, metavar="N", default=0,
                        help="run N configurations of every method that has a search space, per split seed: draw 0 "
                             "is its usual configuration, the others are drawn reproducibly from its space "
                             "(methods/README.md, 'Search spaces'); needs protocols that hold out labelled "
                             "validation images, e.g. --protocols 'synthface-*-p?' (protocols/README.md, "
                             "'Fair comparison')")
    parser.add_argument("--budget", type=int, metavar="EPOCHS",
                        help="train every learning method for EPOCHS epochs, its warm-ups and ramps scaled in the "
                             "paper's proportions (default: the profile's budget, chosen from the learning curves: "
                             "leaderboard/LEARNING_CURVES.md)")
    parser.add_argument("--profile", choices=PROFILES,
                        help="parameter profile (default: the protocol's; 'cpu' on the embedded protocols)")
    parser.add_argument("--data-root", type=Path, help="folder holding the real datasets (or $GFACE_DATA_ROOT)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                        help="where run folders and the local leaderboard (RUNS_DIR/leaderboard/) go "
                             "(default: runs/)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="features, image arrays, backbone weights (default: $GFACE_CACHE_DIR or ./.cache)")
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda, cuda:N")
    parser.add_argument("--executor", choices=list(EXECUTORS), default="local",
                        help="where runs execute: " + "; ".join(f"{k}: {v}" for k, v in EXECUTORS.items()))
    parser.add_argument("--lanes", type=int, metavar="N",
                        help="--executor local: run N runs side by side, each on one CPU thread, so that the numbers "
                             "do not depend on the core count (default: one lane per usable core on the CPU, 1 on a "
                             "GPU; 1: one after another in this process)")
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
    parser.add_argument("--no-leaderboard", action="store_true",
                        help="do not rebuild the local leaderboard (RUNS_DIR/leaderboard/) at the end")
    parser.add_argument("--list", choices=["methods", "datasets", "protocols", "backbones"],
                        help="list registered names (datasets and backbones: present or missing) and exit")
    parser.add_argument("--show", metavar="METHOD", help="a method's parameters, paper defaults and profiles")
    return parser


def build_leaderboard_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{COMMAND} leaderboard",
        description="Tabulate the run records under --runs-dir: the results store results/ (the records replace "
                    "their own runs' rows, other rows stay), LEADERBOARD.md and the charts, in "
                    "RUNS_DIR/leaderboard/. The "
                    "committed leaderboard/ and the README table change only with --publish.")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR, help="where run folders are")
    parser.add_argument("--publish", action="store_true",
                        help="write the committed tables instead: leaderboard/ and the README table (maintainers)")
    parser.add_argument("--check", action="store_true",
                        help="exit non-zero if the committed LEADERBOARD.md, README table, leaderboard.tex or "
                             "charts differ from what the committed results store, leaderboard/results/, gives "
                             "(writes nothing)")
    parser.add_argument("--latex", action="store_true", help="also write leaderboard.tex (booktabs)")
    parser.add_argument("--with-committed", action="store_true",
                        help="rank your runs (marked '(yours)') beside the committed board's runs of the same run "
                             "identity (same data, split, weights, scorer); protocols that differ are kept apart")
    parser.add_argument("--rebuild", action="store_true",
                        help="the results store from the records under --runs-dir alone (default: those records "
                             "replace their own runs' rows and the rows of other runs are kept)")
    parser.add_argument("--output-dir", type=Path,
                        help="where results/, LEADERBOARD.md and the charts go (default: RUNS_DIR/leaderboard/; "
                             "with --publish or --check: leaderboard/)")
    parser.add_argument("--readme", type=Path, default=REPO_ROOT / "README.md",
                        help="--publish, --check: README whose table between the leaderboard markers is kept in sync")
    return parser


def build_weights_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{COMMAND} weights", description="Backbone weight files: list where each is and whether it is "
        "present; fetch downloads a backbone's official weights (only when you ask), verifies the pinned sha256 "
        "and stores them in the cache.")
    parser.add_argument("action", choices=["list", "fetch"])
    parser.add_argument("names", nargs="*", metavar="NAME", help="fetch: backbone names or globs")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where weights/ is (default: $GFACE_CACHE_DIR or ./.cache)")
    parser.add_argument("--force", action="store_true", help="fetch: download again even if the file is cached")
    return parser


def build_reproduce_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{COMMAND} reproduce", description="The sweeps behind the committed board (leaderboard/sweeps.yaml): "
        "list them with their run counts and costs, or run one. Options after --run NAME other than the sweep's own "
        "(--executor, --lanes, --cache-dir, --dry-run, ...) go to the run command.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true", help="every sweep: runs, runs on the board, cost, command")
    action.add_argument("--run", metavar="NAME", help="run this sweep (resumable, like any sweep)")
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS_DIR,
                        help="where run folders are (--list: the median wall time of the records found there)")
    return parser


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


def run_command(args: argparse.Namespace) -> int:
    from benchmark.plan import run_status
    from benchmark.plugins import load_plugins
    from benchmark.core.registry import BACKBONES, DATASETS, METHODS, PROTOCOLS
    from benchmark.user_plugins import PLUGINS_ENV, PROTOCOLS_ENV, add_to_env

    add_to_env(PLUGINS_ENV, args.plugins)
    protocol_files = [p for p in args.protocols or [] if p.endswith((".yaml", ".yml")) or os.sep in p]
    add_to_env(PROTOCOLS_ENV, [Path(p) for p in protocol_files])
    load_plugins()
    from benchmark.core.weights import use_weight_files
    use_weight_files(args.weights)
    cache_dir = args.cache_dir or default_cache_dir()
    check_folder("--runs-dir", args.runs_dir)
    check_folder("--cache-dir (or $GFACE_CACHE_DIR)", cache_dir)
    if args.data_root is not None and not args.data_root.expanduser().is_dir():
        raise MissingFileError(f"--data-root {args.data_root} is not a folder; pass the folder that holds the "
                               f"dataset folders (raf-basic/, ferplus/, affectnet/; see datasets/README.md)")
    if args.list or args.show:
        from benchmark.catalogue import list_names, show_method
        registry = {"methods": METHODS, "datasets": DATASETS, "protocols": PROTOCOLS, "backbones": BACKBONES}
        print(show_method(args.show) if args.show else list_names(args.list, registry[args.list], args.data_root,
                                                                  cache_dir))
        return 0
    check_writable("--runs-dir", args.runs_dir)
    check_writable("--cache-dir (or $GFACE_CACHE_DIR)", cache_dir)
    if args.seeds < 1:
        raise GFaceError(f"--seeds {args.seeds}: need at least 1 repetition")
    if args.budget is not None and args.budget < 1:
        raise GFaceError(f"--budget {args.budget}: a budget is a number of epochs, at least 1")
    if args.lanes is not None and args.lanes < 1:
        raise GFaceError(f"--lanes {args.lanes}: the number of runs side by side, at least 1")
    if args.hparam_search < 0:
        raise GFaceError(f"--hparam-search {args.hparam_search}: the number of configurations per method, at least 1 "
                         f"(0 or absent: no search)")
    if not args.protocols:
        for name, reason in sorted(PROTOCOLS.broken.items()):
            print(f"warning: protocol {name} skipped: {reason}", file=sys.stderr)
    specs = plan_specs(args, protocol_files)
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
        if (args.lanes or 1) > 1:
            raise GFaceError(f"under torchrun the processes share each run: drop --lanes {args.lanes}")
        device = str(distributed.init_from_env(resolve_device(args.device)))
    settings = Settings(args.runs_dir, cache_dir, args.data_root, device, args.keep_checkpoints)
    env = settings.environment()
    specs = preflight(specs, env)
    if main_process:
        statuses = [run_status(s, args.runs_dir) for s in specs]  # each run folder read once
        print(plan_table(specs, statuses))
        done, stale = statuses.count("done"), statuses.count("stale")
        print(f"{len(specs)} runs: {done} done, {len(specs) - done} pending"
              + (f" ({stale} of them replace stale records: their data, weights or code changed)" if stale else ""))
    if args.dry_run:
        return 0
    from benchmark.executors.lanes import default_lanes
    local = args.executor == "local" and not distributed.launched_by_torchrun()
    lanes = args.lanes or (default_lanes(env.device.type) if local else 1)
    result = execute(args.executor, specs, settings, args.cluster_config, args.detach, env, lanes)
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


def plan_specs(args: argparse.Namespace, protocol_files: list[str] = ()) -> list:
    """The sweep's runs, before the preflight (plugins loaded)."""
    from benchmark.backbone_axis import with_backbones
    from benchmark.method import parse_overrides
    from benchmark.plan import expand
    protocols = [Path(p).stem if p in protocol_files else p for p in args.protocols or []] or None
    return with_backbones(expand(args.methods, protocols, args.seeds, parse_overrides(args.overrides), args.profile,
                                 args.ablate, args.budget, args.hparam_search), args.backbones)


def sweep_specs(sweep) -> list:
    """The runs a sweep of ``leaderboard/sweeps.yaml`` plans."""
    return plan_specs(build_run_parser().parse_args(sweep.argv))


def reproduce_command(args: argparse.Namespace, passed: list[str]) -> int:
    from benchmark.plugins import load_plugins
    from benchmark.reproduce import check_passed_options, list_sweeps, load_sweeps, sweep_named
    sweeps = load_sweeps()
    if args.run:
        sweep = sweep_named(args.run, sweeps)
        check_passed_options(passed, sweep)
        print(f"sweep {sweep.name}: {COMMAND} {sweep.command}")
        return run_command(build_run_parser().parse_args([*sweep.argv, "--runs-dir", str(args.runs_dir), *passed]))
    if passed:
        raise GFaceError(f"reproduce --list takes no other options (got {' '.join(passed)})")
    from benchmark.leaderboard import RUN_SLOT
    from benchmark.results_store import read_results
    load_plugins()
    runs = read_results(LEADERBOARD_DIR / "results").drop_duplicates(["protocol", "method", "run_id"])
    committed = {tuple(row[:5]) + (int(row[5]), int(row[6])) for row in runs[RUN_SLOT].itertuples(index=False)}
    print(list_sweeps(sweeps, sweep_specs, committed, args.runs_dir))
    return 0


def leaderboard_command(args: argparse.Namespace) -> int:
    from benchmark.leaderboard import (COMMITTED_SOURCE, README_END, README_START, RUN_KEY, RUN_SLOT, readme_table,
                                       render_markdown)
    from benchmark.leaderboard_latex import render_latex
    from benchmark.leaderboard_plot import render_charts, stale_charts
    from benchmark.results import collect_records, merge_results
    from benchmark.results_store import check_store, read_results, remove_absent_protocols

    committed = args.publish or args.check
    if committed and args.with_committed:
        raise GFaceError("--with-committed ranks your runs beside the committed board in RUNS_DIR/leaderboard/; it "
                         "goes without --publish and --check")
    output_dir = args.output_dir or (LEADERBOARD_DIR if committed else args.runs_dir / LOCAL_LEADERBOARD)
    if (committed or args.with_committed) and not LEADERBOARD_DIR.is_dir() and args.output_dir is None:
        raise GFaceError(f"{LEADERBOARD_DIR} does not exist: --publish, --check and --with-committed work on a "
                         f"source checkout's committed leaderboard")
    check_folder("--runs-dir", args.runs_dir)
    check_folder("--output-dir", output_dir)
    if not args.check:
        check_writable("--output-dir", output_dir)
    store = output_dir / "results"
    if (output_dir / "results.csv").exists():
        check_store(store)  # the old single-file table: refused until converted, so no run of it is dropped
    markdown_path, readme_path, latex_path = output_dir / "LEADERBOARD.md", args.readme, output_dir / "leaderboard.tex"
    if (args.publish or args.check) and not readme_path.is_file():
        raise MissingFileError(f"--readme {readme_path} is not a file; pass the README whose table between the "
                               f"markers {README_START} and {README_END} is kept in sync")
    if args.check:
        frame = read_results(store)
        texts = [(markdown_path, render_markdown(frame)),
                 (readme_path, readme_with_table(readme_path, readme_table(frame)))]
        texts += [(latex_path, render_latex(frame))] if latex_path.exists() else []
        stale = [p.name for p, text in texts if not p.exists() or read_text(p) != text]
        stale += stale_charts(frame, output_dir)
        if stale:
            print(f"stale: {', '.join(stale)} differ from {store}; run: {COMMAND} leaderboard --publish "
                  f"--latex", file=sys.stderr)
            return 1
        print(f"leaderboard is up to date with {store}")
        return 0
    frame = collect_records(args.runs_dir)
    sources = COMMITTED_SOURCE if args.publish else f"the run records under `{args.runs_dir}` (kept in `{store}`)"
    files: dict[Path, bytes | str] = {}  # everything is rendered (and checked) first, then written together
    store_files: dict[str, str] = {}
    if frame.empty:
        if not store.exists():
            if not args.runs_dir.is_dir():
                raise MissingFileError(f"--runs-dir {args.runs_dir} does not exist and {store} neither: "
                                       f"run a sweep first, or pass the --runs-dir your sweep wrote to")
            print(f"no run records under {args.runs_dir}: no leaderboard written")
            return 0
        frame = read_results(store)
        sources = COMMITTED_SOURCE if args.publish else f"`{store}`"
        print(f"no run records under {args.runs_dir}; rendering {store}")
    else:
        if store.exists() and not args.rebuild:
            frame = merge_results(read_results(store), frame, RUN_SLOT)
        store_files, frame = results_round_trip(frame)  # render exactly what --check will read back
        files.update({store / name: text for name, text in store_files.items()})
    if args.with_committed:
        from benchmark.leaderboard_yours import with_committed
        frame, joined, apart = with_committed(frame, read_results(LEADERBOARD_DIR / "results"))
        sources += (f" (methods marked (yours)) and the committed {COMMITTED_SOURCE}'s runs of the same run identity "
                    f"on {', '.join(joined) or 'no protocol'}" + "".join(f"; kept apart: {a}" for a in apart))
        for reason in apart:
            print(f"not ranked beside the committed board: {reason}", file=sys.stderr)
    files[markdown_path] = render_markdown(frame, sources)
    if args.publish:
        files[readme_path] = readme_with_table(readme_path, readme_table(frame))
    files.update({output_dir / name: png for name, png in render_charts(frame).items()})
    if args.latex:
        files[latex_path] = render_latex(frame)
    atomic.write_all(files)
    if store_files:
        remove_absent_protocols(store, {Path(name).parts[0] for name in store_files if "/" in name})
    runs = len(frame.drop_duplicates(RUN_KEY))
    print(f"leaderboard of {runs} runs: {markdown_path} (results/, charts beside it)"
          + (f"; README table: {readme_path}" if args.publish else ""))
    return 0


def readme_with_table(readme_path: Path, table: str) -> str:
    """The README's text with ``table`` between its leaderboard markers; a README without them is one error."""
    from benchmark.leaderboard import splice_readme
    try:
        return splice_readme(read_text(readme_path), table)
    except GFaceError as exc:
        raise GFaceError(f"--readme {readme_path}: {exc}; add the two marker lines where the table goes, or pass "
                         f"the README that has them") from None


def results_round_trip(frame) -> tuple[dict[str, str], object]:
    """The files of ``frame`` as a results store (``{path inside the store: text}``) and the frame read back from
    them (as ``--check`` will read it), written to a temporary folder only."""
    import tempfile

    from benchmark.results_store import read_results, write_results
    with tempfile.TemporaryDirectory(prefix="gface-results-") as tmp:
        write_results(frame, Path(tmp))
        files = {path.relative_to(tmp).as_posix(): path.read_text() for path in sorted(Path(tmp).rglob("*"))
                 if path.is_file()}
        return files, read_results(Path(tmp))


def weights_command(args: argparse.Namespace) -> int:
    from benchmark.plugins import load_plugins
    from benchmark.core.weights import WEIGHT_FILES, fetch
    load_plugins()
    cache_dir = args.cache_dir or default_cache_dir()
    if args.action == "list":
        if args.names:
            raise GFaceError(f"weights list takes no NAME (got {' '.join(args.names)}); it lists every backbone's "
                             f"file. To download one: {COMMAND} weights fetch NAME")
        for name in WEIGHT_FILES.names():
            weights = WEIGHT_FILES.get(name)
            path = weights.path(cache_dir)
            pin = weights.sha256 or "not pinned"
            print(f"{name:<20} {'present' if path.is_file() else 'missing':<8} {path}\n{'':<20} url: "
                  f"{weights.url or '(none: ' + weights.obtain_from + ')'}; sha256: {pin}")
        return 0
    if not args.names:
        raise GFaceError(f"weights fetch: name a backbone ({', '.join(WEIGHT_FILES.names())})")
    check_writable("--cache-dir (or $GFACE_CACHE_DIR)", cache_dir)
    for name in WEIGHT_FILES.select(args.names):
        path, digest = fetch(name, cache_dir, force=args.force)
        pinned = WEIGHT_FILES.get(name).sha256
        check = f"matches the pinned {pinned}" if pinned else "no hash is pinned for it: compare it yourself"
        print(f"{name}: {path}\n  sha256 {digest} ({check})")
    return 0


def check_folder(option: str, path: Path) -> None:
    """A folder the command writes into may be absent (it is created), but not a file."""
    if Path(path).expanduser().exists() and not Path(path).expanduser().is_dir():
        raise GFaceError(f"{option} {path} is a file, not a folder; pass a folder (it is created if absent)")


def check_writable(option: str, path: Path) -> None:
    """Before anything is written: ``path`` (or the nearest folder it would be created in) lets this user write."""
    path = Path(path).expanduser()
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise GFaceError(f"{option} {path} cannot be created: {existing} is a file; pass another folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GFaceError(f"{option} {path} is not writable: {existing} does not let this user write; fix its "
                         f"permissions or pass another folder")


def plan_table(specs, statuses: list[str]) -> str:
    """Done / stale / pending counts per protocol, method and backbone (``statuses`` from ``plan.run_status``)."""
    from tabulate import tabulate

    columns = ("done", "stale", "pending")
    counts: dict[tuple[str, str, str], list[int]] = {}
    for spec, status in zip(specs, statuses):
        counts.setdefault((spec.protocol.id, spec.method, spec.backbone), [0, 0, 0])[columns.index(status)] += 1
    rows = [[p, m, b, d, s, q] for (p, m, b), (d, s, q) in counts.items()]
    return tabulate(rows, ["protocol", "method", "backbone", "done", "stale", "pending"], tablefmt="simple")

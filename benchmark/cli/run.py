"""The run command (the default subcommand): plan a sweep of methods x protocols x seeds, check it, run what is not
done, then tabulate its runs."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from benchmark.cli.common import Parser, check_folder, check_writable
from benchmark.cli.leaderboard import build_leaderboard_parser, leaderboard_command
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.paths import COMMAND, DEFAULT_RUNS_DIR, default_cache_dir
from benchmark.executors import EXECUTORS
from benchmark.protocol import PROFILES

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


def run_command(args: argparse.Namespace) -> int:
    from benchmark.plan import run_status
    from benchmark.plugin_discovery import load_plugins
    from benchmark.core.registry import BACKBONES, DATASETS, METHODS, PROTOCOLS
    from benchmark.external_plugins import PLUGINS_ENV, PROTOCOLS_ENV, add_to_env

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
        if main_process:
            from benchmark.run_costs import cost_table
            print(f"\nCost per backbone (benchmark/run_costs.py: medians of finished records under {args.runs_dir}):")
            print(cost_table(specs, args.runs_dir))
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
        where = ["--cache-dir", str(cache_dir)] + (["--data-root", str(args.data_root)] if args.data_root else [])
        leaderboard_command(build_leaderboard_parser().parse_args(["--runs-dir", str(args.runs_dir), *where]))
    return 1 if result.failed else 0


def plan_specs(args: argparse.Namespace, protocol_files: list[str] = ()) -> list:
    """The sweep's runs, before the preflight (plugins loaded)."""
    from benchmark.plan_backbones import with_backbones
    from benchmark.method import parse_overrides
    from benchmark.plan import expand
    protocols = [Path(p).stem if p in protocol_files else p for p in args.protocols or []] or None
    return with_backbones(expand(args.methods, protocols, args.seeds, parse_overrides(args.overrides), args.profile,
                                 args.ablate, args.budget, args.hparam_search), args.backbones)


def plan_table(specs, statuses: list[str]) -> str:
    """Done / stale / pending counts per protocol, method and backbone (``statuses`` from ``plan.run_status``)."""
    from tabulate import tabulate

    columns = ("done", "stale", "pending")
    counts: dict[tuple[str, str, str], list[int]] = {}
    for spec, status in zip(specs, statuses):
        counts.setdefault((spec.protocol.id, spec.method, spec.backbone), [0, 0, 0])[columns.index(status)] += 1
    rows = [[p, m, b, d, s, q] for (p, m, b), (d, s, q) in counts.items()]
    return tabulate(rows, ["protocol", "method", "backbone", "done", "stale", "pending"], tablefmt="simple")

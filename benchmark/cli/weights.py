"""``weights``: list where each backbone's weight file is, or fetch official weights (only when asked)."""
from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.cli.common import Parser, check_writable
from benchmark.core.errors import GFaceError
from benchmark.core.paths import COMMAND, default_cache_dir


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


def weights_command(args: argparse.Namespace) -> int:
    from benchmark.plugin_discovery import load_plugins
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

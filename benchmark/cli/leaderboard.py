"""``leaderboard``: run records -> the results store -> LEADERBOARD.md, the README table, LaTeX and charts
(``benchmark/reporting/``); ``--check`` compares the committed files with what the committed store gives."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.cli.common import Parser, check_folder, check_writable
from benchmark.core import atomic
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.paths import (COMMAND, DEFAULT_RUNS_DIR, LEADERBOARD_DIR, LOCAL_LEADERBOARD, REPO_ROOT,
                                  default_cache_dir)
from benchmark.core.text_files import read_text


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
                             "(writes nothing); also counts the runs of an older method code version the board "
                             "shows apart as 'name (code vN)'")
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
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the datasets' arrays are, for the diagnostics of what the clusters follow "
                             "(default: $GFACE_CACHE_DIR or ./.cache)")
    parser.add_argument("--data-root", type=Path, help="folder holding the real datasets (or $GFACE_DATA_ROOT), "
                        "for the diagnostics of datasets that declare per-image attributes")
    parser.add_argument("--protocols", nargs="+", default=[], type=Path, metavar="FILE.yaml",
                        help="protocol files outside the checkout that your runs used (also "
                             "$GFACE_PROTOCOL_FILES), for the diagnostics of the attributes their datasets declare")
    parser.add_argument("--plugins", nargs="+", default=[], type=Path, metavar="DIR",
                        help="plugin folders your runs used (also $GFACE_PLUGINS), for the diagnostics of the "
                             "attribute sources they register")
    parser.add_argument("--readme", type=Path, default=REPO_ROOT / "README.md",
                        help="--publish, --check: README whose table between the leaderboard markers is kept in sync")
    return parser


def leaderboard_command(args: argparse.Namespace) -> int:
    from benchmark.reporting.board import (COMMITTED_SOURCE, README_END, README_START, RUN_KEY, RUN_SLOT,
                                           readme_table, render_markdown)
    from benchmark.reporting.charts import render_charts, stale_charts
    from benchmark.reporting.collect import collect_records, merge_results
    from benchmark.reporting.latex import render_latex
    from benchmark.reporting.older_code import mark_older_code, older_code_summary
    from benchmark.reporting.factor_store import merge_diagnostics, read_diagnostics
    from benchmark.reporting.store import check_store, read_results, remove_absent_protocols

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
        frame, diagnostics = mark_older_code(read_results(store), read_diagnostics(store))
        texts = [(markdown_path, render_markdown(frame, diagnostics=diagnostics)),
                 (readme_path, readme_with_table(readme_path, readme_table(frame)))]
        texts += [(latex_path, render_latex(frame))] if latex_path.exists() else []
        stale = [p.name for p, text in texts if not p.exists() or read_text(p) != text]
        stale += stale_charts(frame, output_dir, diagnostics)
        if stale:
            print(f"stale: {', '.join(stale)} differ from {store}; run: {COMMAND} leaderboard --publish "
                  f"--latex", file=sys.stderr)
            return 1
        older = older_code_summary(frame)
        print(f"leaderboard is up to date with {store}" + (f"; {older}" if older else ""))
        return 0
    frame = collect_records(args.runs_dir)
    diagnostics = read_diagnostics(store) if store.is_dir() and (frame.empty or not args.rebuild) else None
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
        from benchmark.external_plugins import PLUGINS_ENV, PROTOCOLS_ENV, add_to_env
        from benchmark.reporting.run_diagnostics import collect_diagnostics
        add_to_env(PLUGINS_ENV, args.plugins)
        add_to_env(PROTOCOLS_ENV, args.protocols)
        fresh = collect_diagnostics(args.runs_dir, args.cache_dir or default_cache_dir(), args.data_root)
        if store.exists() and not args.rebuild:
            frame = merge_results(read_results(store), frame, RUN_SLOT)
        diagnostics = fresh if diagnostics is None else merge_diagnostics(diagnostics, fresh)
        store_files, frame, diagnostics = results_round_trip(frame, diagnostics)  # as --check reads them
        files.update({store / name: text for name, text in store_files.items()})
    if args.with_committed:
        from benchmark.reporting.yours import with_committed
        frame, joined, apart = with_committed(frame, read_results(LEADERBOARD_DIR / "results"))
        sources += (f" (methods marked (yours)) and the committed {COMMITTED_SOURCE}'s runs of the same run identity "
                    f"on {', '.join(joined) or 'no protocol'}" + "".join(f"; kept apart: {a}" for a in apart))
        for reason in apart:
            print(f"not ranked beside the committed board: {reason}", file=sys.stderr)
    frame, diagnostics = mark_older_code(frame, diagnostics)
    files[markdown_path] = render_markdown(frame, sources, diagnostics)
    if args.publish:
        files[readme_path] = readme_with_table(readme_path, readme_table(frame))
    files.update({output_dir / name: png for name, png in render_charts(frame, diagnostics).items()})
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
    from benchmark.reporting.board import splice_readme
    try:
        return splice_readme(read_text(readme_path), table)
    except GFaceError as exc:
        raise GFaceError(f"--readme {readme_path}: {exc}; add the two marker lines where the table goes, or pass "
                         f"the README that has them") from None


def results_round_trip(frame, diagnostics=None) -> tuple[dict[str, str], object, object]:
    """The files of ``frame`` and its runs' ``diagnostics`` as a results store (``{path inside the store: text}``)
    and both read back from them (as ``--check`` will read them), written to a temporary folder only."""
    import tempfile

    from benchmark.reporting.factor_store import read_diagnostics
    from benchmark.reporting.store import read_results, write_results
    with tempfile.TemporaryDirectory(prefix="gface-results-") as tmp:
        write_results(frame, Path(tmp), diagnostics)
        files = {path.relative_to(tmp).as_posix(): path.read_text() for path in sorted(Path(tmp).rglob("*"))
                 if path.is_file()}
        return files, read_results(Path(tmp)), read_diagnostics(Path(tmp))

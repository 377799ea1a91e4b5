"""Learning curves of the learning methods and the budget each gets by the rule of benchmark/budget_rule.py.

    python -m benchmark.tools.learning_curves --runs-dir runs/curves            # every learner, model-3 protocols
    python -m benchmark.tools.learning_curves --runs-dir runs/curves --publish  # maintainers: into leaderboard/
                                                     # (the committed curves of other methods are kept)
    python -m benchmark.tools.learning_curves --replot leaderboard              # the chart from the CSV files there

Budgets double from ``--min-budget`` while any curve is still rising: at each budget one ordinary sweep
(``run_benchmark.py --budget E``, resumable, records under ``--runs-dir``) runs the learners whose curve has not
plateaued on that protocol. Then it writes learning_curves.csv (mean, std, n of All/Old/New on D_U per budget),
budgets.csv (the rule's plateau and chosen budget per curve, and each learner's budget), LEARNING_CURVES.md and
learning_curves.png, in ``--output-dir`` (default RUNS_DIR/learning-curves/; with --publish: leaderboard/).
A budget a method refuses (e.g. fewer detector epochs than cycles) is skipped for that method, with its reason.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.budget import is_learner  # noqa: E402
from benchmark.budget_rule import (CURVE_METRICS, GAIN, Choice, choices, curve_points,  # noqa: E402
                                   has_plateaued, method_budgets)
from benchmark.core.atomic import write_text  # noqa: E402
from benchmark.core.errors import GFaceError  # noqa: E402
from benchmark.core.paths import LEADERBOARD_DIR, REPO_ROOT  # noqa: E402
from benchmark.core.registry import METHODS  # noqa: E402
from benchmark.plugin_discovery import load_plugins  # noqa: E402
from benchmark.reporting.chart_style import method_styles, png_metadata  # noqa: E402
from benchmark.reporting.collect import collect_records  # noqa: E402
from benchmark.reporting.headline import display_name  # noqa: E402

EMBEDDED = ("synthface-basic", "synthface-compound")


def sweep(methods: list[str], protocol: str, budget: int, args: argparse.Namespace) -> None:
    """One ordinary sweep at ``budget``; each method alone, so that one refusing the budget does not stop the rest."""
    for method in methods:
        command = [sys.executable, str(REPO_ROOT / "run_benchmark.py"), "--methods", method, "--protocols", protocol,
                   "--budget", str(budget), "--seeds", str(args.seeds), "--runs-dir", str(args.runs_dir),
                   "--no-leaderboard"] + (["--cache-dir", str(args.cache_dir)] if args.cache_dir else [])
        print(f"learning curves: {method} on {protocol}, budget {budget}", flush=True)
        done = subprocess.run(command, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
            if not reason.startswith("error:"):
                raise GFaceError(f"the sweep of {method} at budget {budget} failed: {done.stderr.strip()}")
            print(f"learning curves: skipped {method} at budget {budget}: {reason}", flush=True)


def run_curves(methods: list[str], protocols: list[str], args: argparse.Namespace) -> pd.DataFrame:
    budget = args.min_budget
    while budget <= args.max_budget:
        for protocol in protocols:
            points = current_points(args.runs_dir)
            rising = [m for m in methods if not has_plateaued(all_by_budget(points, m, protocol, budget))]
            if rising:
                sweep(rising, protocol, budget, args)
        budget *= 2
    return current_points(args.runs_dir)


def current_points(runs_dir: Path) -> pd.DataFrame:
    frame = collect_records(runs_dir) if runs_dir.is_dir() else pd.DataFrame()
    return curve_points(frame) if len(frame) else pd.DataFrame(columns=["method", "protocol", "budget", "metric",
                                                                         "mean", "std", "n", "collapsed"])


def all_by_budget(points: pd.DataFrame, method: str, protocol: str, below: int) -> dict[int, float]:
    here = points[(points["method"] == method) & (points["protocol"] == protocol) & (points["metric"] == "all")
                  & (points["budget"] < below)]
    return dict(zip(here["budget"], here["mean"]))


def budgets_table(found: list[Choice]) -> pd.DataFrame:
    final = method_budgets(found)
    return pd.DataFrame([{"method": c.method, "protocol": c.protocol, "budgets_run": " ".join(map(str, c.budgets_run)),
                          "plateau": c.plateau or "", "plateau_all": round(c.plateau_all, 4), "chosen": c.chosen,
                          "method_budget": final[c.method]} for c in found])


def markdown(points: pd.DataFrame, table: pd.DataFrame) -> str:
    lines = ["# Learning curves and training budgets", "",
             "Generated by `python -m benchmark.tools.learning_curves --publish` from the runs' records: do not edit.",
             "Each point is a complete run at that budget (epochs; schedules scaled, benchmark/budget.py), D_U "
             "accuracy in %, mean ± std over n runs; † = runs whose predictions collapsed.", "",
             f"**Rule** (benchmark/budget_rule.py), the same for every learner: a curve has plateaued at budget E "
             f"once the next two doublings (2E, 4E) gained at most {GAIN * 100:.0f} point of All over the best All up "
             f"to E; the chosen budget is the smallest budget within {GAIN * 100:.0f} point of the best All up to 4E; "
             f"a curve not plateaued by the largest budget run keeps that budget; a learner's budget is the largest "
             f"chosen over the protocols, and its `cpu` profile holds it (a test checks). The level in the last table is "
             f"the best All up to 4E past the plateau, or the All at the largest budget run where the curve has not "
             f"plateaued.", "",
             f"Curves run on {', '.join(sorted(points['protocol'].unique()))}; every protocol with the `cpu` profile "
             f"(protocols/README.md) trains at the budgets chosen here.", ""]
    for protocol, here in points.groupby("protocol"):
        budgets = sorted(here["budget"].unique())
        lines += [f"## {protocol}", "", "| method | metric | " + " | ".join(f"E={b}" for b in budgets) + " |",
                  "|---|---|" + "---|" * len(budgets)]
        for (method, metric), rows in here.groupby(["method", "metric"], sort=True):
            by = rows.set_index("budget")
            cells = [f"{by.at[b, 'mean'] * 100:.1f} ± {by.at[b, 'std'] * 100:.1f} (n={by.at[b, 'n']})"
                     + (" †" if by.at[b, "collapsed"] else "") if b in by.index else "" for b in budgets]
            lines.append(f"| {method} | {metric} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Chosen budgets", "", "| method | protocol | budgets run | plateau at | level (All) | chosen | "
              "method's budget |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.method} | {r.protocol} | {r.budgets_run} | {r.plateau or 'not reached'} | "
              f"{r.plateau_all * 100:.1f} | {r.chosen} | {r.method_budget} |" for r in table.itertuples()]
    return "\n".join(lines) + "\n"


def plot(points: pd.DataFrame, table: pd.DataFrame, path: Path) -> None:
    """One panel per protocol and metric, a line per method (its own colour, marker and dash, as in every chart),
    a ring at each curve's chosen budget and a dashed line at the budgets the board uses (``budgets.csv``); the
    legend right of the panels."""
    protocols = sorted(points["protocol"].unique())
    styles = method_styles(sorted(points["method"].unique()))
    chosen = {(r.method, r.protocol): r.chosen for r in table.itertuples()}
    fig, axes = plt.subplots(len(protocols), len(CURVE_METRICS), figsize=(2.2 + 4.2 * len(CURVE_METRICS),
                                                                          3.4 * len(protocols)), squeeze=False)
    for row, protocol in enumerate(protocols):
        for col, metric in enumerate(CURVE_METRICS):
            ax = axes[row][col]
            here = points[(points["protocol"] == protocol) & (points["metric"] == metric)]
            for method, curve in here.groupby("method"):
                curve = curve.sort_values("budget")
                ax.errorbar(curve["budget"], curve["mean"] * 100, yerr=curve["std"] * 100, ms=4, capsize=2,
                            linewidth=1.1, elinewidth=0.6, label=display_name(method), **styles[method])
                at = curve[curve["budget"] == chosen.get((method, protocol))]
                ax.plot(at["budget"], at["mean"] * 100, "o", ms=11, mfc="none", mec=styles[method]["color"], mew=1.4)
            for used in sorted(table.loc[table["protocol"] == protocol, "method_budget"].unique()):
                ax.axvline(used, color="grey", linestyle="--", linewidth=1, zorder=0)
            ax.set_xscale("log", base=2)
            ax.set_title(f"{protocol}: {metric}", fontsize=9)
            ax.set_xlabel("budget (epochs)")
            ax.set_ylabel("D_U accuracy (%)")
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], linestyle="none", marker="o", ms=11, mfc="none", mec="black"))
    handles.append(plt.Line2D([], [], color="grey", linestyle="--", linewidth=1))
    labels += ["curve's chosen budget", "budget the board uses"]
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1 - 2.0 / fig.get_figwidth(), 0.5), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 2.1 / fig.get_figwidth(), 1))
    fig.savefig(path, dpi=110, metadata=png_metadata(points))
    plt.close(fig)


def with_committed_points(committed: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """The ``fresh`` curves plus the ``committed`` ones of the (method, protocol) pairs ``fresh`` does not hold, so a
    publish of some methods' curves keeps the others'; a fresh curve replaces its committed one whole."""
    pairs = set(zip(fresh["method"], fresh["protocol"]))
    kept = committed[[pair not in pairs for pair in zip(committed["method"], committed["protocol"])]]
    merged = pd.concat([kept, fresh], ignore_index=True)
    return merged.sort_values(["method", "protocol", "budget", "metric"], kind="stable").reset_index(drop=True)


def write_outputs(points: pd.DataFrame, output_dir: Path) -> pd.DataFrame:
    output_dir.mkdir(parents=True, exist_ok=True)
    table = budgets_table(choices(points))
    write_text(output_dir / "learning_curves.csv", points.to_csv(index=False, float_format="%.6f"))
    write_text(output_dir / "budgets.csv", table.to_csv(index=False))
    write_text(output_dir / "LEARNING_CURVES.md", markdown(points, table))
    plot(points, table, output_dir / "learning_curves.png")
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.learning_curves", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", help="learning methods (default: every method with epochs)")
    parser.add_argument("--protocols", nargs="+", default=list(EMBEDDED), help="default: synthface-basic and synthface-compound (expression model 3)")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions per budget (default 3)")
    parser.add_argument("--min-budget", type=int, default=1, help="first budget in epochs (default 1)")
    parser.add_argument("--max-budget", type=int, default=16, help="largest budget in epochs, the cap (default 16)")
    parser.add_argument("--runs-dir", type=Path, help="where the curve's runs go (resumable; required unless --replot)")
    parser.add_argument("--replot", type=Path, metavar="DIR",
                        help="no runs: redraw DIR/learning_curves.png from DIR/learning_curves.csv and budgets.csv")
    parser.add_argument("--cache-dir", type=Path, help="features and view banks (default: the suite's)")
    parser.add_argument("--tables-only", action="store_true", help="no new runs: tabulate the records there are")
    parser.add_argument("--publish", action="store_true", help="write into leaderboard/ (maintainers)")
    parser.add_argument("--output-dir", type=Path, help="default: RUNS_DIR/learning-curves/, or leaderboard/")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.min_budget < 1 or args.max_budget < args.min_budget or args.seeds < 1:
            raise GFaceError("need 1 <= --min-budget <= --max-budget and --seeds >= 1")
        load_plugins()
        if args.replot:
            points, table = (pd.read_csv(args.replot / name) for name in ("learning_curves.csv", "budgets.csv"))
            plot(points, table, args.replot / "learning_curves.png")
            print(f"wrote {args.replot / 'learning_curves.png'}")
            return 0
        if args.runs_dir is None:
            raise GFaceError("--runs-dir is required (or --replot DIR to redraw a chart from its CSV files)")
        methods = args.methods or [m for m in METHODS.names() if is_learner(METHODS.get(m))]
        unknown = [m for m in methods if m not in METHODS.names()]
        if unknown:
            raise GFaceError(f"--methods {unknown}: not registered; see run_benchmark.py --list methods")
        points = current_points(args.runs_dir) if args.tables_only else run_curves(methods, args.protocols, args)
        points = points[points["method"].isin(methods) & points["protocol"].isin(args.protocols)]
        if points.empty:
            raise GFaceError(f"no curve runs under {args.runs_dir}; run without --tables-only first")
        output_dir = args.output_dir or (LEADERBOARD_DIR if args.publish else args.runs_dir / "learning-curves")
        if args.publish and (output_dir / "learning_curves.csv").is_file():
            points = with_committed_points(pd.read_csv(output_dir / "learning_curves.csv"), points)
        table = write_outputs(points, output_dir)
        print(table.to_string(index=False))
        print(f"wrote {output_dir}/LEARNING_CURVES.md, learning_curves.csv, budgets.csv, learning_curves.png")
        return 0
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

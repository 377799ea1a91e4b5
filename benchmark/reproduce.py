"""The sweeps behind the committed board, as data (``leaderboard/sweeps.yaml``): list them, or run one.

A sweep is a name and the options of an ordinary run command, so ``reproduce --run NAME`` is that command: resumable,
on any executor. ``--list`` prints each sweep's run count, how many of its runs the committed board holds and how
many of those an older version of their method's code made (``reporting/older_code.py``), and its cost: the median
wall time of its finished records under ``--runs-dir`` when there are any, else what the docs measured. The command
line does the planning (``plan``: sweep -> run specs), so this module needs no parser.
"""
from __future__ import annotations

import difflib
import json
import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.paths import COMMAND, LEADERBOARD_DIR
from benchmark.plan import RunSpec

SWEEPS_FILE = LEADERBOARD_DIR / "sweeps.yaml"
RECIPES_FILE = LEADERBOARD_DIR / "recipes.yaml"  # real-data boards with no committed runs (same fields, `recipes:`)
FIELDS = {"name", "board", "command", "cost"}
FIXED_OPTIONS = ("--methods", "--protocols", "--seeds", "--set", "--ablate", "--hparam-search", "--budget",
                 "--profile", "--backbones", "--list", "--show")  # what a sweep defines; other options pass through


@dataclass(frozen=True)
class Sweep:
    name: str
    board: str  # the part of the board it fills
    command: str  # options of the run command
    cost: str = ""  # the docs' measurement

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)


def load_sweeps(path: Path | None = None, key: str = "sweeps") -> list[Sweep]:
    """The sweeps of ``path`` (default: ``leaderboard/sweeps.yaml``) under ``key``, read with ``yaml.safe_load``."""
    path = path or SWEEPS_FILE
    if not Path(path).is_file():
        raise MissingFileError(f"{path} not found: `reproduce` works in a source checkout, beside the committed "
                               f"board it regenerates (git clone the repository)")
    try:
        entries = (yaml.safe_load(Path(path).read_text()) or {}).get(key)
    except (yaml.YAMLError, AttributeError) as exc:
        raise GFaceError(f"{path} is not a YAML mapping with a {key!r} list ({exc}); restore it with git checkout")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise GFaceError(f"{path}: {key!r} must be a list of mappings; restore it with git checkout")
    sweeps = []
    for entry in entries:
        unknown, missing = set(entry) - FIELDS, {"name", "board", "command"} - set(entry)
        if unknown or missing:
            raise GFaceError(f"{path}, sweep {entry.get('name', '?')!r}: unknown fields {sorted(unknown)}, missing "
                             f"{sorted(missing)} (fields: {', '.join(sorted(FIELDS))})")
        sweeps.append(Sweep(**{key: str(value) for key, value in entry.items()}))
    names = [s.name for s in sweeps]
    if len(set(names)) != len(names):
        raise GFaceError(f"{path}: names repeat ({', '.join(sorted({n for n in names if names.count(n) > 1}))})")
    return sweeps


def sweep_named(name: str, sweeps: list[Sweep]) -> Sweep:
    for sweep in sweeps:
        if sweep.name == name:
            return sweep
    close = difflib.get_close_matches(name, [s.name for s in sweeps], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise GFaceError(f"reproduce --run {name}: no such sweep{hint}; `{COMMAND} reproduce --list` lists them")


def check_passed_options(options: list[str], sweep: Sweep) -> None:
    """Options given after ``--run NAME`` go to the run command, except those that would change the sweep."""
    fixed = [o for o in options if o.split("=")[0] in FIXED_OPTIONS]
    if fixed:
        raise GFaceError(f"reproduce --run {sweep.name}: {' '.join(fixed)} would change the sweep, which is "
                         f"`{COMMAND} {sweep.command}`; run that command with your changes instead")


def slot(spec: RunSpec) -> tuple:
    """What names a run on the board apart from its identity (``leaderboard.RUN_SLOT``)."""
    return (spec.protocol.id, spec.method, json.dumps(spec.params, sort_keys=True), spec.ablation or "",
            spec.backbone, spec.split_seed, spec.repetition)


def record_slot(record: dict) -> tuple:
    return (record["protocol"]["id"], record["method"]["name"], json.dumps(record["method"]["params"], sort_keys=True),
            record["method"].get("ablation") or "", record["backbone"]["name"], record["seeds"]["split"],
            record["seeds"]["repetition"])


def wall_times(runs_dir: Path) -> dict[tuple, float]:
    """Slot -> ``provenance.wall_time_s`` of every finished record under ``runs_dir``."""
    times = {}
    for done in Path(runs_dir).glob("*/*/*/done"):
        try:
            record = json.loads((done.parent / "record.json").read_text())
            times[record_slot(record)] = float(record["provenance"]["wall_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # an unreadable record costs nothing here; the leaderboard names it
    return times


def list_sweeps(sweeps: list[Sweep], plan: Callable[[Sweep], list[RunSpec]], committed: set[tuple],
                runs_dir: Path, older: set[tuple] = frozenset()) -> str:
    """One block per sweep: name, runs, runs on the committed board, those of them made by an older version of
    their method's code (``older``, re-run by the sweep), cost, the part of the board, the command."""
    from tabulate import tabulate

    times, rows, planned = wall_times(runs_dir), [], set()
    for sweep in sweeps:
        slots = {slot(spec) for spec in plan(sweep)}
        planned |= slots
        measured = [times[s] for s in slots if s in times]
        cost = (f"{statistics.median(measured):.0f} s/run (median of {len(measured)} records in {runs_dir})"
                if measured else sweep.cost or "-")
        rows.append([sweep.name, len(slots), len(slots & committed), len(slots & older), cost])
    table = tabulate(rows, ["sweep", "runs", "on the board", "older code", "cost"], tablefmt="simple",
                     maxcolwidths=[None] * 4 + [62])
    details = "\n".join(f"  {s.name}: {s.board}\n    {COMMAND} reproduce --run {s.name}   # = {COMMAND} {s.command}"
                        for s in sweeps)
    return (f"{table}\n\n{len(planned)} distinct runs ({len(planned & committed)} of the {len(committed)} on the "
            f"committed board; a run planned by two sweeps counts once)\n\n{details}\n\nThen: {COMMAND} leaderboard "
            f"--runs-dir DIR --publish. Runs are pinned to one CPU thread, as the committed records were.")


def load_recipes(path: Path | None = None) -> list[Sweep]:
    """The recipes of the real-data boards (``leaderboard/recipes.yaml``): sweeps with no committed runs."""
    return load_sweeps(path or RECIPES_FILE, key="recipes")


def shape(specs: list[RunSpec]) -> str:
    """E.g. "5 protocols × 2 backbones × 14 methods × 3 seeds" (the seeds: repetitions of each split seed)."""
    parts = [(len({s.protocol.id for s in specs}), "protocol"), (len({s.backbone for s in specs}), "backbone"),
             (len({s.method for s in specs}), "method"), (len({s.repetition for s in specs}), "seed")]
    return " × ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in parts)


def list_recipes(recipes: list[Sweep], plan: Callable[[Sweep], list[RunSpec]], runs_dir: Path) -> str:
    """One row per recipe: name, its shape, runs and cost (``benchmark/run_costs.py``), then the commands."""
    from tabulate import tabulate

    from benchmark.run_costs import cost_summary
    rows = []
    for recipe in recipes:
        specs = plan(recipe)
        rows.append([recipe.name, shape(specs), len(specs), cost_summary(specs, runs_dir)])
    table = tabulate(rows, ["recipe", "shape", "runs", "cost (measured runs only)"], tablefmt="simple",
                     maxcolwidths=[None, 45, None, 60])
    details = "\n".join(f"  {r.name}: {r.board}\n    {COMMAND} reproduce --run {r.name} --data-root DIR --executor "
                        f"local-gpus   # = {COMMAND} {r.command}" for r in recipes)
    return (f"Real-data boards ({RECIPES_FILE.name}; licence-gated data, no committed runs; "
            f"cost: benchmark/run_costs.py, from records under {runs_dir}):\n\n{table}\n\n{details}")

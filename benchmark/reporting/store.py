"""The results store, ``leaderboard/results/``: what ``write_results`` writes and ``read_results`` reads back as the
long table (a row per run, evaluation set and metric; ``collect.py``).

Layout (store version 2, recorded in ``store.json``): a folder per protocol id, holding
- ``runs.csv``: a row per run, keyed by (protocol, method, run_id): its configuration, parameters and identities,
  stored once per run (version 2 added ``method_version``, the code version of the method that made the run; a
  version-1 store reads with it empty, "not recorded");
- ``scores.csv``: a row per run and evaluation set, a column per metric (``METRICS``): empty where the run's record
  has no such metric, ``null`` where the record holds null (undefined, e.g. AUROC without a known class), otherwise
  the value to 6 decimals;
- ``diagnostics.csv`` (only where some run has them): what each run's D_U clusters follow (``factor_store.py``).
Rows are sorted by their key, so a publish that adds runs adds lines and changes none; a protocol's folder grows only
with the runs of that protocol.
"""
from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.core import atomic
from benchmark.core.errors import GFaceError
from benchmark.core.text_files import read_text
from benchmark.reporting.collect import COLUMNS, METRICS
from benchmark.reporting.factor_store import DIAGNOSTICS_FILE, diagnostics_texts

STORE_VERSION = 2
READABLE_VERSIONS = (1, 2)
ADDED_IN_2 = ("method_version",)
STORE_FILE = "store.json"
RUN_KEY = ["protocol", "method", "run_id"]
RUN_COLUMNS = RUN_KEY + [c for c in COLUMNS if c not in RUN_KEY + ["eval_set", "metric", "value"]]
SCORE_COLUMNS = RUN_KEY + ["eval_set", *METRICS]
NULL = "null"
TEXT_COLUMNS = {c: str for c in ("params", "ablation", "score_adapter", "open_class", "versions", "method_version",
                                 "family", "model_selection")}
LONG_ORDER = ["protocol", "method", "params", "ablation", "split_seed", "repetition"]  # then eval_set, metric
FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
REBUILD = "restore it with git checkout, or rebuild it from run records: python run_benchmark.py leaderboard --rebuild"


def write_results(frame: pd.DataFrame, store: Path, diagnostics: pd.DataFrame | None = None) -> None:
    """``frame`` (the long table) and the ``diagnostics`` of its runs (``factor_store.py``) as the store at
    ``store``, replacing what the store held."""
    store = Path(store)
    bad = sorted(p for p in frame["protocol"].unique() if not FOLDER_NAME.fullmatch(str(p)))
    if bad:
        raise GFaceError(f"protocol id {bad[0]!r} cannot name a folder of the results store; use letters, digits, "
                         f"'.', '_' and '-' in protocol ids")
    runs = typed_run_fields(frame[RUN_COLUMNS].drop_duplicates(RUN_KEY)).sort_values(RUN_KEY, kind="stable")
    differing = frame[RUN_COLUMNS].drop_duplicates()
    if len(differing) != len(runs):
        protocol, method, run_id = differing[differing.duplicated(RUN_KEY)].iloc[0][RUN_KEY]
        raise GFaceError(f"run {run_id} of {method} on {protocol!r} appears with two different configurations; "
                         f"delete one of its run folders and rebuild: python run_benchmark.py leaderboard --rebuild")
    scores = _wide_scores(frame)
    atomic.write_json(store / STORE_FILE, {"store_version": STORE_VERSION})
    protocols = set(runs["protocol"])
    factors = diagnostics_texts(diagnostics, runs)
    for protocol, mine in runs.groupby("protocol", sort=True):
        atomic.write_text(store / protocol / "runs.csv", _run_text(mine).to_csv(index=False))
        atomic.write_text(store / protocol / "scores.csv",
                          scores[scores["protocol"] == protocol].to_csv(index=False))
        if protocol in factors:
            atomic.write_text(store / protocol / DIAGNOSTICS_FILE, factors[protocol])
        else:
            (store / protocol / DIAGNOSTICS_FILE).unlink(missing_ok=True)
    remove_absent_protocols(store, protocols)


def remove_absent_protocols(store: Path, protocols: set[str]) -> None:
    """Delete the store's protocol folders other than ``protocols`` (runs no longer in the table)."""
    for folder in sorted(Path(store).iterdir()):
        if folder.is_dir() and folder.name not in protocols and _holds_only_tables(folder):
            shutil.rmtree(folder)


def read_results(store: Path) -> pd.DataFrame:
    """The long table (a row per run, evaluation set and metric; ``COLUMNS``) held by the store at ``store``."""
    store = Path(store)
    version = check_store(store)
    folders = [f for f in sorted(store.iterdir()) if f.is_dir() and not f.name.startswith(".")]
    columns = RUN_COLUMNS if version == STORE_VERSION else [c for c in RUN_COLUMNS if c not in ADDED_IN_2]
    runs, _ = _read_tables(store, folders, "runs.csv", columns, TEXT_COLUMNS)
    runs = runs.reindex(columns=RUN_COLUMNS, fill_value="")
    scores, where = _read_tables(store, folders, "scores.csv", SCORE_COLUMNS, str)
    runs = typed_run_fields(runs)
    if runs.duplicated(RUN_KEY).any():
        protocol, method, run_id = runs[runs.duplicated(RUN_KEY)].iloc[0][RUN_KEY]
        raise GFaceError(f"{store / protocol / 'runs.csv'} holds run {run_id} of {method} twice; {REBUILD}")
    position = pd.MultiIndex.from_frame(runs[RUN_KEY].astype(object)).get_indexer(
        pd.MultiIndex.from_frame(scores[RUN_KEY].astype(object)))
    if (position < 0).any():
        row = int(np.argmax(position < 0))
        raise GFaceError(f"{where(row)}: run {scores['run_id'].iloc[row]} has no row in runs.csv; {REBUILD}")
    metrics = sorted(METRICS)  # the long table lists a run's metrics alphabetically
    values, present = _parse_scores(scores, metrics, where)
    # the long table's order: runs by LONG_ORDER (ties by backbone and run id), then evaluation set, then metric
    ordered = runs.sort_values(LONG_ORDER + ["backbone", "run_id"], kind="stable")
    slot = (~ordered.duplicated(LONG_ORDER)).cumsum().to_numpy()
    rank, slot_of = np.empty(len(runs), int), np.empty(len(runs), int)
    rank[ordered.index.to_numpy()], slot_of[ordered.index.to_numpy()] = np.arange(len(runs)), slot
    eval_code = pd.factorize(scores["eval_set"], sort=True)[0]
    score_row, metric = np.nonzero(present)
    run = position[score_row]
    order = np.lexsort((rank[run], metric, eval_code[score_row], slot_of[run]))
    score_row, metric, run = score_row[order], metric[order], run[order]
    long = runs.take(run).reset_index(drop=True)
    long["eval_set"] = scores["eval_set"].take(score_row).reset_index(drop=True)
    long["metric"] = pd.Series(np.array(metrics, dtype=object)[metric]).astype(str)
    long["value"] = values[score_row, metric]
    return long[list(COLUMNS)]


def check_store(store: Path) -> int:
    """The store version of ``store``; refuses what is not a results store of a version this code reads, naming
    the fix."""
    legacy = store.parent / "results.csv"
    if not store.exists():
        if legacy.is_file():
            raise GFaceError(f"{legacy} is the old single-file results table; convert it once into {store}/ with: "
                             f"python -m benchmark.tools.migrate_results {store.parent}")
        raise GFaceError(f"{store} does not exist and no run records were found; run the benchmark first "
                         f"(python run_benchmark.py --methods all)")
    if not store.is_dir():
        raise GFaceError(f"{store} is a file, not a results store (a folder); {REBUILD}")
    try:
        version = json.loads(read_text(store / STORE_FILE, REBUILD)).get("store_version")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise GFaceError(f"{store} is not a readable results store ({store / STORE_FILE}: {exc}); {REBUILD}") \
            from exc
    if version not in READABLE_VERSIONS:
        raise GFaceError(f"{store} is results store version {version!r}, and this code reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}; use the code that wrote it (git log "
                         f"{store / STORE_FILE}), or rebuild it from run records: python run_benchmark.py "
                         f"leaderboard --rebuild")
    return version


def typed_run_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-run columns as read from CSV text turned into their types: flags, draw and K numbers."""
    frame = frame.copy()
    frame["collapsed"] = frame["collapsed"].astype(str).str.lower().isin(("true", "1"))
    frame["k_given"] = ~frame["k_given"].astype(str).str.lower().isin(("false", "0"))
    frame["hparam_draw"] = pd.to_numeric(frame["hparam_draw"], errors="coerce").fillna(0).astype(int)
    for column in ("n_classes", "k_estimated"):  # empty in rows written before them, or where nothing was estimated
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _run_text(runs: pd.DataFrame) -> pd.DataFrame:
    """Numbers as they read back, whole ones without a decimal point, so a run's line never changes with the
    types of the other runs written beside it."""
    runs = runs.copy()
    for column in runs.columns[[pd.api.types.is_float_dtype(t) for t in runs.dtypes]]:
        runs[column] = [("" if np.isnan(v) else str(int(v)) if float(v).is_integer() else repr(float(v)))
                        for v in runs[column]]
    return runs


def _wide_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """A row per run and evaluation set, a column per metric, as text (see the module docstring)."""
    values = pd.to_numeric(frame["value"], errors="raise").astype(float).to_numpy()
    text = np.array([NULL if np.isnan(v) else "%.6f" % v for v in values], dtype=object)
    long = frame[RUN_KEY + ["eval_set", "metric"]].astype(object).assign(text=text)
    if long.duplicated(RUN_KEY + ["eval_set", "metric"]).any():
        protocol, method, run_id, eval_set, metric = long[long.duplicated(RUN_KEY + ["eval_set", "metric"])].iloc[0][
            RUN_KEY + ["eval_set", "metric"]]
        raise GFaceError(f"run {run_id} of {method} on {protocol!r} has two values of {metric} on {eval_set}; "
                         f"rebuild from run records: python run_benchmark.py leaderboard --rebuild")
    unknown = sorted(set(long["metric"]) - set(METRICS))
    if unknown:
        raise GFaceError(f"metric {unknown[0]!r} is not one the results store holds ({', '.join(METRICS)})")
    wide = long.pivot(index=RUN_KEY + ["eval_set"], columns="metric", values="text")
    wide = wide.reindex(columns=list(METRICS)).astype(object)
    wide = wide.where(wide.notna(), "").reset_index()
    return wide.sort_values(RUN_KEY + ["eval_set"], kind="stable")[SCORE_COLUMNS]


def _read_tables(store: Path, folders: list[Path], name: str, columns: list[str], dtype):
    """One table from ``name`` in every folder (their texts joined, so types are inferred over all rows as from one
    file), and ``where(row)``: the file and line of a row."""
    header, bodies, files, lines = ",".join(columns), [], [], []
    for folder in folders:
        path = folder / name
        try:
            text = read_text(path, f"re-save it as UTF-8, or {REBUILD}")
        except OSError as exc:
            raise GFaceError(f"{path} is not readable ({exc}); {REBUILD}") from exc
        first, _, body = text.partition("\n")
        if first.rstrip("\r") != header:
            raise GFaceError(f"{path} has the columns {first.split(',')}, not {columns}; {REBUILD}")
        if body and not body.endswith("\n"):
            body += "\n"
        bodies.append(body)
        files.append(path)
        lines.append(body.count("\n"))  # CSV fields here never hold a line break (JSON is written on one line)
    try:
        table = pd.read_csv(io.StringIO(header + "\n" + "".join(bodies)), dtype=dtype, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise GFaceError(f"the {name} files under {store} are not readable tables ({exc}); {REBUILD}") from exc
    file_of = np.repeat(np.arange(len(files)), lines)
    start = np.concatenate([[0], np.cumsum(lines)])

    def where(row: int) -> str:
        return f"{files[file_of[row]]}, line {row - start[file_of[row]] + 2}"
    return table, where


def _parse_scores(scores: pd.DataFrame, metrics: list[str], where) -> tuple[np.ndarray, np.ndarray]:
    """(values, present): a float matrix (NaN where null or absent) and where a metric is present, rows of
    ``scores`` by ``metrics``."""
    values, present = np.full((len(scores), len(metrics)), np.nan), np.zeros((len(scores), len(metrics)), bool)
    for j, metric in enumerate(metrics):
        text = scores[metric]
        present[:, j] = (text != "").to_numpy()
        number = pd.to_numeric(text.where(present[:, j] & (text != NULL)), errors="coerce").to_numpy(float)
        bad = present[:, j] & (text != NULL).to_numpy() & np.isnan(number)
        if bad.any():
            row = int(np.argmax(bad))
            raise GFaceError(f"{where(row)}: {metric} {text.iloc[row]!r} is not a number; {REBUILD}")
        values[:, j] = number
    return values, present


def _holds_only_tables(folder: Path) -> bool:
    return {p.name for p in folder.iterdir()} <= {"runs.csv", "scores.csv", DIAGNOSTICS_FILE}

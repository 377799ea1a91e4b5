"""Bad input, as a new user would give it, through the real command line in a subprocess (no pytest log capture).

Every case must exit non-zero with exactly one ``error:`` line naming the problem, no traceback, and leave every
file outside the cache as it was (nothing half-written, nothing replaced): the checks run before the first run
starts, and a command writes its outputs only once all of them are rendered.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.core.paths import REPO_ROOT
from tests.fixtures_real import raf_entries, write_rafdb

TOY = {"id": "x", "version": 1, "dataset": "toy-blobs", "backbone": "toy-pixels", "known": ["alpha", "beta"],
       "new": ["gamma", "delta"], "labelled_fraction": 0.5, "split_seeds": [0], "k_given": True,
       "eval_sets": ["unlabelled_train", "test"], "model_selection": "last_epoch", "scorer": "hungarian_v2"}


SEARCHABLE = {"model_selection": "labelled_validation", "eval_sets": ["unlabelled_train", "test", "validation"],
              "validation_fraction": 0.2, "backbone": "toy-cnn"}


def _protocol(**changes) -> dict:
    return {**TOY, **changes}


def _utf16_rafdb(root: Path) -> None:
    write_rafdb(root / "raf-basic", raf_entries(7))
    label_file = root / "raf-basic" / "EmoLabel" / "list_patition_label.txt"
    label_file.write_bytes(label_file.read_text().encode("utf-16"))


def _empty_record(runs: Path) -> None:
    folder = runs / "toy-basic" / "kmeans" / "split0-rep0-0000000000"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text("{}")
    (folder / "done").write_text("")


def _store(out: Path, runs_csv: str | None = None, score: str = "0.5", version: int = 2) -> None:
    """A one-run results store under ``out/results/``: ``runs_csv`` replaces its runs.csv, ``score`` its value."""
    from benchmark.reporting.store import RUN_COLUMNS, SCORE_COLUMNS
    folder = out / "results" / "toy-basic"
    folder.mkdir(parents=True)
    (out / "results" / "store.json").write_text(json.dumps({"store_version": version}))
    run = {c: "0" for c in RUN_COLUMNS} | {"protocol": "toy-basic", "method": "kmeans", "run_id": "r"}
    (folder / "runs.csv").write_text(runs_csv or ",".join(RUN_COLUMNS) + "\n" + ",".join(run.values()) + "\n")
    scores = {c: "" for c in SCORE_COLUMNS} | {"protocol": "toy-basic", "method": "kmeans", "run_id": "r",
                                                 "eval_set": "test", "all": score}
    (folder / "scores.csv").write_text(",".join(SCORE_COLUMNS) + "\n" + ",".join(scores.values()) + "\n")


def _write(relative: str, text: str):
    """A setup that writes ``text`` to ``tmp_path / relative``."""
    def setup(tmp: Path) -> None:
        (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp / relative).write_text(text)
    return setup


def _record_with_a_word_for_a_metric(runs: Path) -> None:
    folder = runs / "toy-basic" / "kmeans" / "split0-rep0-0000000000"
    folder.mkdir(parents=True)
    record = {"schema": 2, "protocol": {"id": "toy-basic", "version": 1, "dataset": "toy-blobs", "split_sha256": "0"},
              "method": {"name": "kmeans", "params": {}}, "backbone": {"name": "toy-pixels"},
              "scorer": "hungarian_v2", "seeds": {"split": 0, "repetition": 0}, "run_id": folder.name,
              "results": {"test": {"all": "high"}}}
    (folder / "record.json").write_text(json.dumps(record))
    (folder / "done").write_text("")


def _utf16(text: str) -> bytes:
    return text.encode("utf-16")  # with a byte-order mark, as Windows editors save it


def _write_bytes(relative: str, data: bytes):
    def setup(tmp: Path) -> None:
        (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp / relative).write_bytes(data)
    return setup


def _two_records(tmp: Path) -> None:
    """Two finished toy runs (repetitions 0 and 1 of split seed 0) under ``tmp/runs``."""
    proc = toy_cli(tmp, "--methods", "kmeans", "--protocols", "toy-basic", "--seeds", "2")
    assert proc.returncode == 0, proc.stderr


def _records_of_two_splits(tmp: Path) -> None:
    """Two records of one split seed whose split hashes differ, and an earlier leaderboard in ``tmp/out``."""
    _two_records(tmp)
    record_path = sorted((tmp / "runs").glob("toy-basic/kmeans/*/record.json"))[1]
    record = json.loads(record_path.read_text())
    record["protocol"]["split_sha256"] = "0" * 64
    record_path.write_text(json.dumps(record))
    _write("out/LEADERBOARD.md", "an earlier leaderboard\n")(tmp)


def _readme_without_markers(tmp: Path) -> None:
    _two_records(tmp)
    _write("README.md", "# My fork\n\nno leaderboard markers here\n")(tmp)


# id -> (arguments, protocol files to add {id: fields, raw text or raw bytes}, setup(tmp_path), words the error must
# contain: a string, or a tuple of strings that must all be there)
CASES = {
    "count below 1": (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "kmeans.n_init=0"], {}, None,
                      "kmeans.n_init=0: must be at least 1"),
    "batch size 0": (["--methods", "gcd", "--protocols", "toy-cnn", "--set", "gcd.batch_size=0"], {}, None,
                     "gcd.batch_size=0: must be at least 1"),
    "negative epochs": (["--methods", "gcd", "--protocols", "toy-cnn", "--set", "gcd.epochs=-1"], {}, None,
                        "gcd.epochs=-1"),
    "batch above the data": (["--methods", "simgcd", "--protocols", "toy-cnn", "--set", "simgcd.batch_size=500"],
                             {}, None, "no optimiser step"),
    "k_max below K_old": (["--methods", "gcd", "--protocols", "toy-cnn", "--set", "gcd.batch_size=16", "--set",
                           "gcd.estimate_k=true", "--set", "gcd.k_max=1"], {}, None, "k_max must exceed K_old"),
    "wrong type": (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "kmeans.n_init=many"], {}, None,
                   "expected a value of type int"),
    "unknown parameter": (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "kmeans.ninit=3"], {}, None,
                          "Did you mean n_init"),
    "malformed --set": (["--methods", "kmeans", "--protocols", "toy-basic", "--set", "n_init=3"], {}, None,
                        "expected METHOD.PARAM=VALUE"),
    "unknown method": (["--methods", "kmean", "--protocols", "toy-basic"], {}, None, "unknown method 'kmean'"),
    "unknown protocol": (["--methods", "kmeans", "--protocols", "toy-basc"], {}, None, "unknown protocol"),
    "abbreviated option": (["--methods", "kmeans", "--protocols", "toy-basic", "--seed", "3"], {}, None,
                           "unrecognized arguments: --seed 3 (did you mean --seeds?)"),
    "zero seeds": (["--methods", "kmeans", "--protocols", "toy-basic", "--seeds", "0"], {}, None, "--seeds 0"),
    "zero budget": (["--methods", "kmeans", "--protocols", "toy-basic", "--budget", "0"], {}, None, "--budget 0"),
    "search without validation images": (["--methods", "gcd", "--protocols", "toy-basic", "--hparam-search", "2"],
                                         {}, None, "hold out no labelled validation images"),
    "negative search": (["--methods", "kmeans", "--protocols", "toy-basic", "--hparam-search", "-1"], {}, None,
                        "--hparam-search -1"),
    "a drawn parameter set by hand": (["--methods", "gcd", "--protocols", "x", "--hparam-search", "2", "--set",
                                       "gcd.lr=0.2"], {"x": _protocol(**SEARCHABLE)}, None,
                                      "--hparam-search draws lr"),
    "validation without its fraction": (["--methods", "kmeans", "--protocols", "x"],
                                        {"x": _protocol(**{**SEARCHABLE, "validation_fraction": 0})}, None,
                                        "go together"),
    "unknown detector backbone": (["--methods", "openset-fer", "--protocols", "toy-open-delta", "--set",
                                   "openset-fer.detector_backbone=resnet50"], {}, None,
                                  "detector_backbone='resnet50' is not a registered backbone"),
    "no data root": (["--methods", "kmeans", "--protocols", "rafdb-basic"], {}, None, "needs a data root"),
    "no data root, dry run": (["--methods", "kmeans", "--protocols", "rafdb-basic", "--dry-run"], {}, None,
                              "needs a data root"),
    "empty data root": (["--methods", "kmeans", "--protocols", "rafdb-basic", "--data-root", "{tmp}"], {}, None,
                        "does not exist"),
    "UTF-16 label file": (["--methods", "kmeans", "--protocols", "rafdb-basic", "--data-root", "{tmp}"], {},
                          _utf16_rafdb, "list_patition_label.txt is not UTF-8 text (it looks like UTF-16)"),
    "fraction as a word": (["--methods", "kmeans", "--protocols", "x"], {"x": _protocol(labelled_fraction="half")},
                           None, "field 'labelled_fraction' is 'half'; expected a number"),
    "K needed, not given": (["--methods", "simgcd", "--protocols", "x"],
                            {"x": _protocol(k_given=False, backbone="toy-cnn")}, None,
                            ("simgcd needs the number of classes K", "k_given: false")),
    "version as a word": (["--methods", "kmeans", "--protocols", "x"], {"x": _protocol(version="one")}, None,
                          "field 'version' is 'one'; expected an integer"),
    "class list as a string": (["--methods", "kmeans", "--protocols", "x"], {"x": _protocol(known="alpha")}, None,
                               "field 'known' is 'alpha'; expected a list of names"),
    "no new classes": (["--methods", "kmeans", "--protocols", "x"], {"x": _protocol(new=[])}, None,
                        "no new classes"),
    "empty labelled set": (["--methods", "kmeans", "--protocols", "x"], {"x": _protocol(labelled_fraction=0.01)},
                           None, "labels none of them"),
    "misspelt class": (["--methods", "kmeans", "--protocols", "x", "--dry-run"],
                       {"x": _protocol(new=["gamma", "delat"])}, None, "names class 'delat'"),
    "misspelt backbone": (["--methods", "kmeans", "--protocols", "x", "--dry-run"],
                          {"x": _protocol(backbone="toy-pixel")}, None, "unknown backbone 'toy-pixel'"),
    "missing weight file": (["--methods", "kmeans", "--protocols", "x", "--dry-run"],
                            {"x": _protocol(backbone="vit_b16_dino")}, None, "weight file"),
    "invalid YAML": (["--methods", "kmeans", "--protocols", "x"], {"x": "id: x\nknown: [alpha\n"}, None,
                     "not valid YAML"),
    "record is {}": (["leaderboard", "--runs-dir", "{tmp}/runs", "--output-dir", "{tmp}/out", "--readme",
                      "{tmp}/README.md"], {}, lambda tmp: _empty_record(tmp / "runs"), "has schema None"),
    "results store runs.csv lacks columns": (["leaderboard", "--check", "--output-dir", "{tmp}/out"], {},
                                             lambda tmp: _store(tmp / "out", "protocol,method\ntoy-basic,kmeans\n"),
                                             ("toy-basic/runs.csv has the columns", "--rebuild")),
    "results store of another version": (["leaderboard", "--check", "--output-dir", "{tmp}/out"], {},
                                         lambda tmp: _store(tmp / "out", version=3),
                                         ("results store version 3", "reads versions 1, 2")),
    "old results.csv": (["leaderboard", "--output-dir", "{tmp}/out", "--runs-dir", "{tmp}/runs"], {},
                        _write("out/results.csv", "protocol,method\n"),
                        ("old single-file results table", "python -m benchmark.tools.migrate_results")),
    "argparse mistake": (["--methods", "kmeans", "--protocols", "toy-basic", "--seeds", "many"], {}, None,
                         "argument --seeds: invalid int value: 'many'; see python run_benchmark.py --help"),
    "cache dir is a file": (["--methods", "kmeans", "--protocols", "toy-basic", "--cache-dir", "{tmp}/f"], {},
                            _write("f", "x"), "is a file, not a folder"),
    "data root is not a folder": (["--methods", "kmeans", "--protocols", "toy-basic", "--data-root", "{tmp}/no"],
                                  {}, None, "--data-root"),
    "several protocol mistakes": (["--methods", "kmeans", "--protocols", "x"],
                                  {"x": _protocol(version=0, split_seeds=[-1, -1], profile="gpu",
                                                  split_sha256={5: "ab" * 32})}, None,
                                  ("version 0 is below 1", "must be distinct integers", "profile 'gpu'",
                                   "pins seeds [5], which split_seeds lacks")),
    "weight file is text": (["--methods", "kmeans", "--protocols", "x", "--dry-run", "--weights",
                             "vit_b16_dino={tmp}/dino.pth"], {"x": _protocol(backbone="vit_b16_dino")},
                            _write("dino.pth", "<html>Not Found</html>"),
                            "not a loadable PyTorch weight file: it begins with b'<html>"),
    "csv row lacks a label": (["--methods", "kmeans", "--protocols", "x", "--dry-run"],
                              {"x": _protocol(dataset="faces", known=["happy"], new=["sad"],
                                              dataset_spec={"type": "csv", "file": "list.csv"})},
                              _write("protocols/list.csv", "path,label,split\na.jpg,happy,train\nb.jpg\n"),
                              "list.csv line 3 lacks a path, label or split"),
    "dataset_spec classes as a string": (["--methods", "kmeans", "--protocols", "x", "--dry-run"],
                                         {"x": _protocol(dataset="faces", dataset_spec={
                                             "type": "imagefolder", "root": ".", "classes": "happy"})}, None,
                                         "classes is 'happy'; expected a list of names"),
    "record value a word": (["leaderboard", "--runs-dir", "{tmp}/runs", "--output-dir", "{tmp}/out"], {},
                            lambda tmp: _record_with_a_word_for_a_metric(tmp / "runs"), "results.test.all is 'high'"),
    "runs dir is a file": (["leaderboard", "--runs-dir", "{tmp}/f"], {}, _write("f", "x"),
                           "--runs-dir"),
    "leaderboard runs dir absent": (["leaderboard", "--runs-dir", "{tmp}/nowhere"], {}, None,
                                    "run a sweep first, or pass the --runs-dir"),
    "missing --readme": (["leaderboard", "--check", "--output-dir", "{tmp}/out", "--readme", "{tmp}/no.md"], {},
                         None, "--readme"),
    "results store score a word": (["leaderboard", "--check", "--output-dir", "{tmp}/out"], {},
                                   lambda tmp: _store(tmp / "out", score="high"),
                                   "toy-basic/scores.csv, line 2: all 'high' is not a number"),
    "results store is a file": (["leaderboard", "--check", "--output-dir", "{tmp}/out"], {},
                                _write("out/results", "x"), "is a file, not a results store"),
    "weights list NAME": (["weights", "list", "vit_b16_dino"], {}, None, "weights list takes no NAME"),
    "one stored view": (["--methods", "simgcd", "--protocols", "toy-cnn", "--set", "simgcd.view_bank=1"], {}, None,
                        "simgcd.view_bank=1: use 0 for fresh augmented views"),
    "bank for a backbone without a trunk": (["--methods", "gcd", "--protocols", "toy-basic", "--set",
                                             "gcd.batch_size=16"], {}, None,
                                            ("backbone 'toy-pixels' does not split", "gcd.view_bank=0")),
    "add-on with a bank": (["--methods", "simgcd", "--protocols", "toy-cnn", "--set", "simgcd.rebalance=1"], {},
                           None, ("needs images", "simgcd.view_bank=0")),
    "warm-up of all steps": (["--methods", "digface", "--protocols", "toy-cnn", "--set", "digface.warmup_fraction=1"],
                             {}, None, "digface.warmup_fraction=1.0"),
    # text files in another encoding (issue 39)
    "UTF-16 protocol file on the command line": (["--methods", "kmeans", "--protocols", "{tmp}/mine/x.yaml"], {},
                                                 _write_bytes("mine/x.yaml", _utf16(yaml.safe_dump(TOY))),
                                                 ("x.yaml is not UTF-8 text (it looks like UTF-16)", "re-save it")),
    "UTF-16 protocol in a plugin folder, selected": (["--methods", "kmeans", "--protocols", "x"],
                                                     {"x": _utf16(yaml.safe_dump(TOY))}, None,
                                                     ("x.yaml is not UTF-8 text (it looks like UTF-16)",
                                                      "re-save it as UTF-8")),
    "UTF-16 CSV list": (["--methods", "kmeans", "--protocols", "x", "--dry-run"],
                        {"x": _protocol(dataset="faces", known=["happy"], new=["sad"],
                                        dataset_spec={"type": "csv", "file": "list.csv"})},
                        _write_bytes("protocols/list.csv", _utf16("path,label,split\na.jpg,happy,train\n")),
                        ("list.csv is not UTF-8 text (it looks like UTF-16)", "re-save it as UTF-8")),
    "Latin-1 results store": (["leaderboard", "--check", "--output-dir", "{tmp}/out", "--readme", "{tmp}/README.md"],
                              {}, lambda tmp: (_store(tmp / "out"), _write_bytes(
                                  "out/results/toy-basic/runs.csv", "protocol,méthode\n".encode("latin-1"))(tmp),
                                  _write("README.md", "x")(tmp)),
                              ("runs.csv is not UTF-8 text", "re-save it as UTF-8")),
    "UTF-16 README under --check": (["leaderboard", "--check", "--output-dir", "{tmp}/out", "--readme",
                                     "{tmp}/README.md"], {},
                                    lambda tmp: (_two_records(tmp), toy_cli(tmp, "leaderboard", "--runs-dir",
                                                                            f"{tmp}/runs", "--output-dir",
                                                                            f"{tmp}/out"),
                                                 _write_bytes("README.md", _utf16("# README\n"))(tmp)),
                                    "README.md is not UTF-8 text (it looks like UTF-16)"),
    # folders that cannot be written, named before anything starts
    "cache dir under a file": (["--methods", "kmeans", "--protocols", "toy-basic", "--cache-dir", "{tmp}/f/cache"],
                               {}, _write("f", "x"), ("--cache-dir", "cannot be created", "is a file")),
    "runs dir under a file": (["--methods", "kmeans", "--protocols", "toy-basic", "--runs-dir", "{tmp}/f/runs"],
                              {}, _write("f", "x"), ("--runs-dir", "cannot be created", "is a file")),
    "leaderboard output under a file": (["leaderboard", "--runs-dir", "{tmp}/runs", "--output-dir", "{tmp}/f/out"],
                                        {}, lambda tmp: (_two_records(tmp), _write("f", "x")(tmp)),
                                        ("--output-dir", "cannot be created")),
    "weights fetched into a cache under a file": (["weights", "fetch", "vit_b16_dino", "--cache-dir",
                                                   "{tmp}/f/cache"], {}, _write("f", "x"),
                                                  ("--cache-dir", "cannot be created")),
    # a leaderboard that fails leaves every file as it was (issue 39)
    "leaderboard of conflicting split hashes": (["leaderboard", "--runs-dir", "{tmp}/runs", "--output-dir",
                                                 "{tmp}/out"], {}, _records_of_two_splits,
                                                "mix different splits for one split seed"),
    "--publish to a README without markers": (["leaderboard", "--publish", "--runs-dir", "{tmp}/runs",
                                               "--output-dir", "{tmp}/out", "--readme", "{tmp}/README.md"], {},
                                              _readme_without_markers,
                                              ("README.md", "lacks the markers", "add the two marker lines")),
}
if os.geteuid() != 0:  # root writes anywhere
    CASES["cache dir not writable"] = (["--methods", "kmeans", "--protocols", "toy-basic", "--cache-dir",
                                        "{tmp}/ro/cache"], {}, lambda tmp: (tmp / "ro").mkdir(mode=0o555),
                                       ("--cache-dir", "is not writable"))
if not torch.cuda.is_available():
    CASES["cuda without a GPU"] = (["--methods", "kmeans", "--protocols", "toy-basic", "--device", "cuda"], {},
                                   None, "PyTorch sees no CUDA GPU")


def toy_cli(tmp_path: Path, *args: str, protocols: dict | None = None) -> subprocess.CompletedProcess:
    """``python run_benchmark.py ARGS`` with the toy plugins (``tests/cli_plugins``) and ``protocols`` (id ->
    fields or raw text) in plugin folders, its own runs and cache folders and no data root."""
    extra = write_protocols(tmp_path, protocols)
    env = {k: v for k, v in os.environ.items() if k != "GFACE_DATA_ROOT"}
    env.update(GFACE_PLUGINS=os.pathsep.join([str(REPO_ROOT / "tests" / "cli_plugins"), str(extra)]),
               GFACE_CACHE_DIR=str(tmp_path / "cache"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[:1] not in (["leaderboard"], ["weights"]):
        args += ([] if "--runs-dir" in args else ["--runs-dir", str(tmp_path / "runs")]) + ["--no-leaderboard"]
    return subprocess.run([sys.executable, "run_benchmark.py", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def write_protocols(tmp_path: Path, protocols: dict | None) -> Path:
    """``protocols`` (id -> fields, raw text or raw bytes) as files in ``tmp_path/protocols``, a plugin folder."""
    extra = tmp_path / "protocols"
    extra.mkdir(exist_ok=True)
    for name, fields in (protocols or {}).items():
        data = fields if isinstance(fields, (str, bytes)) else yaml.safe_dump({**fields, "id": name})
        (extra / f"{name}.yaml").write_bytes(data if isinstance(data, bytes) else data.encode())
    return extra


def files_outside_the_cache(tmp_path: Path) -> dict[Path, bytes]:
    return {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*")
            if p.is_file() and "cache" not in p.relative_to(tmp_path).parts}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_clear_error(tmp_path, case):
    args, protocols, setup, expected = CASES[case]
    if setup:
        setup(tmp_path)
    write_protocols(tmp_path, protocols)
    before = files_outside_the_cache(tmp_path)
    proc = toy_cli(tmp_path, *args, protocols=protocols)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert len(errors) == 1 and all(e in errors[0] for e in ((expected,) if isinstance(expected, str) else expected)), \
        proc.stderr
    assert files_outside_the_cache(tmp_path) == before  # nothing half-written, nothing replaced


def test_a_corrupt_checkpoint_is_moved_aside_and_training_restarts(tmp_path):
    from benchmark.executors.job import Settings
    from benchmark.method import parse_overrides
    from benchmark.plan import expand
    from benchmark.preflight import preflight

    sets = ["gcd.epochs=1", "gcd.batch_size=16", "gcd.head_hidden_dim=16", "gcd.head_out_dim=32", "gcd.n_init=1"]
    settings = Settings(tmp_path / "runs", tmp_path / "cache", None, "cpu")
    spec, = preflight(expand(["gcd"], ["toy-cnn"], 1, parse_overrides(sets)), settings.environment())
    folder = spec.folder(settings.runs_dir)
    folder.mkdir(parents=True)
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")  # as a crash or a stranger's file would leave it
    proc = toy_cli(tmp_path, "--methods", "gcd", "--protocols", "toy-cnn", *[x for s in sets for x in ("--set", s)])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "moved it to" in proc.stderr
    assert (folder / "checkpoint.pt.corrupt").read_bytes() == b"not a checkpoint"
    assert json.loads((folder / "record.json").read_text())["info"]["train"]["epochs_run"] == 1


def test_a_failing_run_names_its_log_and_the_traceback_stays_in_it(tmp_path):
    proc = toy_cli(tmp_path, "--methods", "toy-failing", "--protocols", "toy-basic")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "log.txt" in proc.stderr and "toy failure" in proc.stderr
    log = next((tmp_path / "runs").glob("toy-basic/toy-failing/*/log.txt")).read_text()
    assert "Traceback" in log and "toy failure" in log


def test_a_broken_protocol_file_breaks_only_the_commands_that_select_it(tmp_path):
    """A UTF-16 file among the plugin protocols: listed as broken, harmless to a command that selects another
    protocol; a UTF-8 file with a byte-order mark is read like any other."""
    protocols = {"x": _utf16(yaml.safe_dump({**TOY, "id": "x"})),
                 "y": b"\xef\xbb\xbf" + yaml.safe_dump({**TOY, "id": "y"}).encode()}
    for args in (["--methods", "kmeans", "--protocols", "toy-basic", "--dry-run"],
                 ["--methods", "kmeans", "--protocols", "y", "--dry-run"], ["--list", "protocols"]):
        proc = toy_cli(tmp_path, *args, protocols=protocols)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "x.yaml is not UTF-8 text (it looks like UTF-16)" in proc.stdout  # --list names the broken file


def _damage(path: Path, how: str) -> None:
    """Damage a cached .npy file as a full disk, an interrupted copy or a stranger would."""
    import numpy as np
    array = np.load(path, allow_pickle=False)
    if how == "cut short":
        path.write_bytes(path.read_bytes()[:-100])
    elif how == "too long":
        path.write_bytes(path.read_bytes() + b"\0" * 64)
    elif how == "object array":
        np.save(path, np.array([None] * len(array), dtype=object), allow_pickle=True)
    elif how == "another dtype":
        np.save(path, array.astype(np.float64))
    elif how == "fewer rows":
        np.save(path, array[:-1])
    elif how == "not an array":
        path.write_text("<html>Not Found</html>")


DAMAGES = ("cut short", "too long", "object array", "another dtype", "fewer rows", "not an array")


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_cache_file_is_named(tmp_path, how):
    import numpy as np

    from benchmark.core.cached_arrays import DamagedCacheError, load_cached
    path = tmp_path / "features.npy"
    np.save(path, np.arange(600, dtype=np.float32).reshape(100, 6))
    assert load_cached(path, dtype=np.float32, ndim=2, length=100, mmap=True).shape == (100, 6)
    _damage(path, how)
    with pytest.raises(DamagedCacheError, match=f"cached file {path} is damaged .*; delete it"):
        load_cached(path, dtype=np.float32, ndim=2, length=100, mmap=True)


@pytest.mark.parametrize("how", ["cut short", "object array", "fewer rows"])
def test_a_damaged_synthface_array_is_generated_again(tmp_path, how, caplog):
    """Documented recovery (datasets/synthface/loaders.py): its content key fixes what the entry holds, so a
    damaged file is logged, its entry deleted and generated anew, the same arrays."""
    import numpy as np

    from datasets.synthface.generate import SynthConfig
    from datasets.synthface.loaders import load_synthface
    tiny = SynthConfig(image_size=24, n_identities=5, basic_train=21, basic_test=7, compound_train=22,
                       compound_test=11, min_train_per_class=2)
    first = load_synthface("synthface-basic", tmp_path, tiny)
    images, labels = np.array(first.images), np.array(first.labels)
    damaged = Path(first.images.filename) if how == "cut short" else Path(first.images.filename).parents[1] / \
        "labels.npy"
    _damage(damaged, how)
    again = load_synthface("synthface-basic", tmp_path, tiny)
    np.testing.assert_array_equal(again.images, images)
    np.testing.assert_array_equal(again.labels, labels)
    assert f"cached file {damaged} is damaged" in caplog.text and "rebuilding it" in caplog.text


def test_cut_short_cached_features_are_extracted_again(tmp_path):
    """Documented recovery (benchmark/features.py): the features' key names the backbone, weights and data, so a
    damaged file is logged by name and extracted anew; the run that needed it completes."""
    proc = toy_cli(tmp_path, "--methods", "kmeans", "--protocols", "toy-basic")
    assert proc.returncode == 0, proc.stderr
    features, = (tmp_path / "cache" / "features").glob("*.npy")
    features.write_bytes(features.read_bytes()[:-1000])
    proc = toy_cli(tmp_path, "--methods", "kmeans", "--protocols", "toy-basic", "--seeds", "2")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cached file {features} is damaged" in proc.stderr and "cut short" in proc.stderr
    assert "ran 1, skipped 1" in proc.stdout


def test_a_damaged_image_cache_entry_is_decoded_again(tmp_path, caplog):
    import numpy as np
    from PIL import Image

    from datasets.image_cache import ImageSource, cached_images
    sources = []
    for i in range(3):
        Image.new("RGB", (10, 10), (20 * i, 0, 0)).save(tmp_path / f"{i}.png")
        sources.append(ImageSource(tmp_path / f"{i}.png", f"{i}.png"))
    first = cached_images(sources, size=8, cache_dir=tmp_path / "cache", key_parts=["t"], desc="tiny")
    expected = np.array(first.images)
    _damage(Path(first.images.filename), "cut short")
    again = cached_images(sources, size=8, cache_dir=tmp_path / "cache", key_parts=["t"], desc="tiny")
    np.testing.assert_array_equal(again.images, expected)
    assert "is damaged" in caplog.text and "rebuilding it" in caplog.text

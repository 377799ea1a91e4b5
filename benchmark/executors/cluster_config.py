"""The cluster settings file of ``--executor submitit`` (YAML, read with ``yaml.safe_load``, checked key by key).

Example (every key optional; the values shown for ``cluster`` to ``max_requeues`` are the defaults)::

    cluster: slurm            # slurm; or local / debug to try a sweep on this machine (CI uses them)
    partition: gpu
    account: my-project
    qos: normal
    time_min: 240             # per job; on timeout or preemption the run is requeued and resumes
    gpus_per_job: 1
    cpus_per_job: 8
    mem_gb: 32
    array_parallelism: 32     # Slurm starts at most this many runs at once (cluster: local starts all)
    max_requeues: 3           # timeouts tolerated per run before it is given up
    setup:                    # shell lines run before each job
      - module load cuda/12.1
      - source /path/to/GFACE-Bench/.venv/bin/activate
    sbatch: {constraint: a100}   # any further #SBATCH option
    log_dir: /shared/gface-submitit   # default: <runs-dir>/.submitit
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.text_files import read_text

CLUSTERS = ("slurm", "local", "debug")


@dataclass(frozen=True)
class ClusterConfig:
    cluster: str = "slurm"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_min: int = 240
    gpus_per_job: int = 1
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    array_parallelism: int = 32
    max_requeues: int = 3
    setup: tuple[str, ...] = ()
    sbatch: dict = field(default_factory=dict)
    log_dir: Path | None = None


# key -> (accepted Python types, description for messages, smallest allowed number)
_KINDS = {
    "cluster": ((str,), f"one of {', '.join(CLUSTERS)}", None),
    "partition": ((str,), "a partition name", None),
    "account": ((str,), "an account name", None),
    "qos": ((str,), "a QOS name", None),
    "time_min": ((int,), "a whole number of minutes >= 1", 1),
    "gpus_per_job": ((int,), "a whole number >= 0", 0),
    "cpus_per_job": ((int,), "a whole number >= 1", 1),
    "mem_gb": ((int, float), "a number of GB > 0", 1e-9),
    "array_parallelism": ((int,), "a whole number >= 1", 1),
    "max_requeues": ((int,), "a whole number >= 0", 0),
    "setup": ((list,), "a list of shell lines", None),
    "sbatch": ((dict,), "a mapping of #SBATCH option to value", None),
    "log_dir": ((str,), "a folder path", None),
}


def load_cluster_config(path: Path) -> ClusterConfig:
    path = Path(path).expanduser()
    if not path.is_file():
        raise MissingFileError(f"--cluster-config {path}: no such file; write one (see the example in "
                               f"benchmark/executors/cluster_config.py)")
    try:
        data = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        raise GFaceError(f"--cluster-config {path} is not valid YAML: {exc}") from exc
    return parse_cluster_config(data or {}, str(path))


def parse_cluster_config(data, where: str) -> ClusterConfig:
    if not isinstance(data, dict):
        raise GFaceError(f"{where}: expected a mapping of settings (key: value lines), got {type(data).__name__}")
    known = [f.name for f in fields(ClusterConfig)]
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise GFaceError(f"{where}: unknown key {key!r}.{hint} Known keys: {', '.join(known)}")
        _check(key, value, where)
    values = dict(data)
    if "setup" in values:
        values["setup"] = tuple(values["setup"])
    if "log_dir" in values:
        values["log_dir"] = Path(values["log_dir"]).expanduser()
    return ClusterConfig(**values)


def _check(key: str, value, where: str) -> None:
    types, description, minimum = _KINDS[key]
    wrong_type = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
    if wrong_type or (minimum is not None and value < minimum):
        raise GFaceError(f"{where}: {key}: {value!r} is not {description}")
    if key == "cluster" and value not in CLUSTERS:
        raise GFaceError(f"{where}: cluster: {value!r} is not {description}")
    if key == "setup" and not all(isinstance(line, str) for line in value):
        raise GFaceError(f"{where}: setup: every entry must be a shell line (a string)")
    if key == "sbatch" and not all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                   for v in value.values()):
        raise GFaceError(f"{where}: sbatch: every option needs a string or number value")

"""Executes runs: load data, materialise the split, run the method, score, write the record atomically.

Each run owns ``runs/<protocol>/<method>/<run_id>/`` holding ``spec.json``, ``log.txt``, ``predictions.npz``,
``record.json`` and a ``done`` marker written last. A run with a ``done`` marker and a readable record is skipped;
one without (killed, crashed) is run again, and learning methods resume from the checkpoints they keep in that
folder until it is done. The method sees its task through ``benchmark/isolation.py`` (no route to labels, a per-run
row order); a user mistake found inside a run leaves no new folder behind, and an unexpected failure keeps its
traceback in ``log.txt`` only. Under ``torchrun`` every process runs each
run (the trainer shards its batches) and rank 0 alone writes the folder.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import random
import shutil
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from benchmark.core import atomic
from benchmark import distributed
from benchmark.device import describe
from benchmark.core.errors import GFaceError
from benchmark.core.paths import CHECKPOINT, PREDICTIONS
from benchmark.isolation import RowOrder, isolated_task
from benchmark.method import Predictions
from benchmark.plan import RunSpec, is_done
from benchmark.progress import SweepProgress
from benchmark.protocol import PREDICTED_SETS
from benchmark.splits import Split, materialise
from benchmark.provenance import git_state, package_versions, peak_rss_mb
from benchmark.scoring import collapse, score_predictions
from benchmark.core.backbone import Backbone
from benchmark.core.data import FERData
from benchmark.core.attributes import SampleAttributes
from benchmark.core.registry import ATTRIBUTES, BACKBONES, DATASETS, METHODS
from benchmark.core.scorer import SCORER_VERSION

RECORD_SCHEMA = 3  # 2: identity, row order and collapse flag; 3: the flag is read on the protocol's scored set
log = logging.getLogger("gface")
run_log = logging.getLogger("gface.run")  # the run's log.txt only: tracebacks never reach the terminal
run_log.propagate = False


@dataclass
class Environment:
    runs_dir: Path
    cache_dir: Path
    data_root: Path | None
    device: torch.device
    keep_checkpoints: bool = False  # by default a finished run deletes its training checkpoints
    _datasets: dict = field(default_factory=dict)
    _splits: dict = field(default_factory=dict)
    _backbones: dict = field(default_factory=dict)
    _attributes: dict = field(default_factory=dict)

    def backbone(self, name: str) -> Backbone:
        if name not in self._backbones:
            self._backbones[name] = BACKBONES.get(name)(self.cache_dir)
        return self._backbones[name]

    def dataset(self, name: str) -> FERData:
        if name not in self._datasets:
            self._datasets[name] = DATASETS.get(name)(self.data_root, self.cache_dir)
        return self._datasets[name]

    def attributes(self, name: str) -> SampleAttributes | None:
        """The dataset's per-image attributes (scorer side only), None where it has no attribute source."""
        if name not in self._attributes:
            self._attributes[name] = (ATTRIBUTES.get(name)(self.data_root, self.cache_dir, self.dataset(name))
                                      if name in ATTRIBUTES else None)
        return self._attributes[name]

    def split(self, spec: RunSpec) -> Split:
        key = (spec.protocol.id, spec.split_seed)
        if key not in self._splits:
            name = spec.protocol.dataset
            self._splits[key] = materialise(spec.protocol, self.dataset(name), spec.split_seed,
                                            self.attributes(name) if spec.protocol.subject_independent else None)
        return self._splits[key]


@dataclass
class SweepResult:
    ran: list[RunSpec]
    skipped: list[RunSpec]
    failed: list[tuple[RunSpec, str]]
    queued: list[RunSpec] = field(default_factory=list)  # submitted to a cluster, not waited for


def run_sweep(specs: list[RunSpec], env: Environment) -> SweepResult:
    """Run every pending spec; a user mistake (GFaceError) stops the sweep, other failures are logged and counted."""
    pending = [s for s in specs if not is_done(s, env.runs_dir)]
    distributed.barrier()  # every process has the same list before rank 0 writes a done marker
    result = SweepResult([], [s for s in specs if s not in pending], [])
    with SweepProgress(len(pending), enabled=distributed.is_main()) as progress:
        for spec in pending:
            try:
                run_one(spec, env)
                result.ran.append(spec)
            except GFaceError:
                raise  # a user mistake: the same for every run, so the sweep stops with its message
            except Exception as exc:  # noqa: BLE001 - logged with traceback in the run folder, sweep goes on
                if distributed.world_size() > 1:
                    raise  # the other processes cannot skip ahead in step with this one
                result.failed.append((spec, f"{type(exc).__name__}: {exc}"))
                log.error("run %s/%s/%s failed: %s (see %s)", spec.protocol.id, spec.method, spec.run_id, exc,
                          spec.folder(env.runs_dir) / "log.txt")
            progress.advance(f"{spec.protocol.id}/{spec.method}/{spec.run_id}")
    return result


def run_one(spec: RunSpec, env: Environment) -> dict:
    """Run one spec and write its folder; the unit of work every executor calls."""
    folder = spec.folder(env.runs_dir)
    if not distributed.is_main():
        return _execute(spec, env, folder)[0]
    new_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_json(folder / "spec.json", spec.to_dict())
    handler = logging.FileHandler(folder / "log.txt")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for logger in (log, run_log):
        logger.addHandler(handler)
    try:
        run_log.info("start %s", spec.to_dict())
        record, predictions = _execute(spec, env, folder)
        atomic.write_bytes(folder / PREDICTIONS, predictions_npz(predictions))
        atomic.write_json(folder / "record.json", record)
        atomic.write_text(folder / "done", record["provenance"]["finished_at"] + "\n")
        if not env.keep_checkpoints:  # about 12 MB per learning run; a done run is never resumed
            for checkpoint in folder.rglob(CHECKPOINT):
                checkpoint.unlink()
        primary = spec.protocol.eval_sets[0]  # unlabelled_train on GCD protocols, osfer_pool on open-set ones
        log.info("done %s/%s/%s: All %.4f Old %.4f New %.4f on %s", spec.protocol.id, spec.method, spec.run_id,
                 *(record["results"][primary].get(k, float("nan")) for k in ("all", "old", "new")), primary)
        return record
    except GFaceError:
        handler.close()
        if new_folder and not (folder / CHECKPOINT).exists():
            shutil.rmtree(folder, ignore_errors=True)  # a user mistake leaves nothing half-written
        raise
    except BaseException:
        run_log.error("failed:\n%s", traceback.format_exc())
        raise
    finally:
        for logger in (log, run_log):
            logger.removeHandler(handler)
        handler.close()


def _execute(spec: RunSpec, env: Environment, folder: Path) -> tuple[dict, Predictions]:
    """The run's record and its predictions (in the split's order)."""
    started, t0 = _now(), time.perf_counter()
    data = env.dataset(spec.protocol.dataset)
    split = env.split(spec)
    backbone = env.backbone(spec.backbone)
    identity = current_identity(spec, data, split, env)
    if spec.identity and dict(spec.identity) != identity:
        raise GFaceError(f"run {spec.protocol.id}/{spec.method}/{spec.run_id}: the data, weights or code changed "
                         f"since the sweep was planned ({_differences(dict(spec.identity), identity)}); run the "
                         f"same command again to plan it anew")
    method = METHODS.get(spec.method)
    learner = method(method.Params(**spec.params))
    task, order = isolated_task(spec.protocol.id, data, split, backbone, method=spec.method,
                                seed=spec.training_seed, device=env.device, cache_dir=env.cache_dir, work_dir=folder,
                                extra_backbones={name: env.backbone(name) for name in learner.extra_backbones()})
    seed_everything(spec.training_seed)
    if env.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(env.device)
    predictions = in_split_order(learner.run(task), order, split)
    results = score_predictions(predictions, split, spec.protocol.n_known)
    provenance = {**git_state(), "packages": package_versions(), **describe(env.device),
                  "started_at": started, "finished_at": _now(), "wall_time_s": round(time.perf_counter() - t0, 3),
                  "peak_rss_mb": round(peak_rss_mb(), 1), "world_size": distributed.world_size()}
    if env.device.type == "cuda":
        provenance["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated(env.device) / 2**20, 1)
    p = spec.protocol
    return {
        "schema": RECORD_SCHEMA,
        "run_id": spec.run_id,
        "identity": identity,
        "protocol": {"id": p.id, "version": p.version, "kind": p.kind, "open_class": p.open_class, "family": p.family,
                     "dataset": p.dataset, "known": list(p.known),
                     "new": list(p.new), "labelled_fraction": p.labelled_fraction, "k_given": p.k_given,
                     "split_seed": spec.split_seed, "split_sha256": split.sha256, "histograms": split.histograms()},
        "method": {"name": spec.method, "version": method.version, "profile": spec.profile, "params": spec.params,
                   "model_selection": p.model_selection, "score_adapter": predictions.score_adapter,
                   "reference_adapter": predictions.reference_adapter,
                   "ablation": spec.ablation, "hparam_draw": spec.hparam_draw},
        "backbone": {"name": spec.backbone, "weights_sha256": backbone.weights_sha256},
        "seeds": {"split": spec.split_seed, "repetition": spec.repetition, "training": spec.training_seed,
                  "row_order": order.seed, "cudnn_deterministic": torch.backends.cudnn.deterministic},
        "K": {"value": len(p.class_names), "given": p.k_given, "estimated": _optional_int(predictions.k_estimated)},
        "scorer": SCORER_VERSION,
        "results": results,
        "collapse": collapse(predictions.clusters, results, split),
        "info": predictions.info,
        "dataset_provenance": data.provenance,
        "provenance": provenance,
    }, predictions


def _optional_int(value) -> int | None:
    return None if value is None else int(value)


def predictions_npz(predictions: Predictions) -> bytes:
    """``predictions.npz``: per predicted set, ``clusters_<set>`` and ``knownness_<set>`` in the split's row order
    (the rows of ``Split.indices(set)``), for plots and later analysis; read with ``np.load(..., allow_pickle=False)``."""
    arrays = {f"clusters_{s}": np.asarray(v) for s, v in predictions.clusters.items()}
    arrays |= {f"knownness_{s}": np.asarray(v, dtype=np.float64) for s, v in predictions.knownness.items()}
    arrays |= {f"reference_knownness_{s}": np.asarray(v, dtype=np.float64)
               for s, v in predictions.reference_knownness.items()}
    arrays |= {f"reference_clusters_{s}": np.asarray(v) for s, v in predictions.reference_clusters.items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def current_identity(spec: RunSpec, data: FERData, split: Split, env: Environment) -> dict[str, str]:
    """What a run's numbers depend on beyond its configuration (``benchmark/preflight.py``), the weights of a
    method's extra backbones included."""
    method = METHODS.get(spec.method)
    extra = method(method.Params(**spec.params)).extra_backbones()
    return {"data": data.content_key, "split": split.sha256, "weights": env.backbone(spec.backbone).weights_sha256,
            "method_version": str(method.version), "scorer": SCORER_VERSION,
            **{f"weights:{name}": env.backbone(name).weights_sha256 for name in extra}}


def _differences(planned: dict, now: dict) -> str:
    return ", ".join(f"{key} {str(planned.get(key))[:12]} -> {str(now.get(key))[:12]}"
                     for key in sorted(set(planned) | set(now)) if planned.get(key) != now.get(key))


def in_split_order(predictions: Predictions, order: RowOrder, split: Split) -> Predictions:
    """The method's per-set outputs (in sorted task positions) re-ordered to the split's row order."""
    rows = {s: split.indices(s) for s in PREDICTED_SETS}

    def reorder(per_set: dict) -> dict:
        return {s: order.to_split_order(v, rows[s]) if s in PREDICTED_SETS else v for s, v in per_set.items()}

    return dataclasses.replace(predictions, clusters=reorder(predictions.clusters),
                               knownness=reorder(predictions.knownness),
                               reference_knownness=reorder(predictions.reference_knownness),
                               reference_clusters=reorder(predictions.reference_clusters))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

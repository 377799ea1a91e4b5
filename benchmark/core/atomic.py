"""Atomic file writes: a temp file in the same folder, then ``os.replace`` (readers never see half a file).

``write_all`` writes several files as one step: every temp file first, then the renames, so a command that fails
while writing (a full disk, a folder it may not write) leaves every file as it was. ``built_once``: a shared cache
file that concurrent processes build once, under a lock."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; concurrent builders then duplicate work, atomically
    fcntl = None

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_bytes(path: Path, data: bytes) -> None:
    _write_atomically(path, lambda stream: stream.write(data))


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path, obj) -> None:
    """JSON with NaN written as null (strict JSON), keys in insertion order."""
    write_text(path, json.dumps(_nan_to_none(obj), indent=2, allow_nan=False) + "\n")


def save_npy(path: Path, array: np.ndarray) -> None:
    _write_atomically(path, lambda stream: np.save(stream, array, allow_pickle=False))


def write_all(files: dict[Path, bytes | str]) -> None:
    """Every ``path: content`` (text as UTF-8) staged in a temp file beside its path, then all renamed: nothing is
    replaced unless every file could be staged."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            staged.append((_staged(Path(path), lambda stream, data=data: stream.write(data)), Path(path)))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def built_once(path: Path, build: Callable[[Path], object]) -> Path:
    """``path``, first written by ``build(path)`` (which writes atomically) unless it exists. Processes that share
    a cache (the lanes of a sweep) take an advisory lock on ``path.lock``, so one builds and the others wait."""
    path = Path(path)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():  # another process may have built it while this one waited
            build(path)
    return path  # closing the lock file released the lock


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    tmp = _staged(Path(path), write)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _staged(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """``write(stream)`` into a temp file next to ``path``, fsynced; the file gets the usual permissions (0666
    minus the umask; ``mkstemp`` alone would leave it readable by its owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _nan_to_none(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, np.generic):
        return _nan_to_none(obj.item())
    return obj

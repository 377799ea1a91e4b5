"""Reading arrays back from a cache: checked before use, so a damaged file is named, never a numpy traceback.

A cache file can be cut short (a full disk, an interrupted copy), replaced by another array or hold Python objects
(a stranger's file). ``load_cached`` reads the ``.npy`` header first and refuses an object dtype, another dtype or
shape than the reader expects, and a file whose size is not the header's promise; only then does it ``np.load``
(``allow_pickle=False``, optionally memory-mapped). Every refusal is a ``DamagedCacheError`` naming the file; the
caller rebuilds the entry when its content key allows (``rebuild_once``) or passes the error on. ``cached_array``
does all of it for one content-keyed ``.npy`` file: built once, checked, rebuilt once if damaged.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from benchmark.core.atomic import built_once, save_npy
from benchmark.core.errors import GFaceError

log = logging.getLogger("gface")
T = TypeVar("T")

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


class DamagedCacheError(GFaceError):
    """A cached file that is not what its writer wrote (``path``), and what is wrong with it (``problem``)."""

    def __init__(self, path: Path, problem: str, fix: str = "delete it and run the command again: it is rebuilt"):
        super().__init__(f"cached file {path} is damaged ({problem}); {fix}")
        self.path, self.problem = Path(path), problem


def load_cached(path: Path, *, dtype=None, kind: str | None = None, ndim: int | None = None,
                length: int | None = None, tail: tuple[int, ...] | None = None, mmap: bool = False) -> np.ndarray:
    """The array in ``path``, after checking its header: ``dtype`` (exact) or ``kind`` (``np.dtype.kind``, e.g.
    "i"), ``ndim``, ``length`` (rows), ``tail`` (the shape after the first axis), and a file size that holds
    exactly the promised bytes. ``mmap``: a read-only memory map instead of a copy in memory."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            version = np.lib.format.read_magic(stream)
            if version not in _HEADER_READERS:
                raise DamagedCacheError(path, f".npy format version {version} is not one this suite writes")
            shape, _, found = _HEADER_READERS[version](stream)
            data_start = stream.tell()
    except DamagedCacheError:
        raise
    except (ValueError, EOFError) as exc:
        raise DamagedCacheError(path, f"not a .npy array: {exc}") from None
    except OSError as exc:
        raise DamagedCacheError(path, f"unreadable: {exc.strerror or exc}") from None
    problem = _shape_problem(found, shape, dtype, kind, ndim, length, tail)
    expected = data_start + math.prod(shape) * found.itemsize
    size = os.path.getsize(path)
    if not problem and size != expected:
        problem = f"{size} bytes where its header promises {expected}: {'cut short' if size < expected else 'too long'}"
    if problem:
        raise DamagedCacheError(path, problem)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DamagedCacheError(path, str(exc)) from None


def _shape_problem(found: np.dtype, shape: tuple[int, ...], dtype, kind, ndim, length, tail) -> str:
    if found.hasobject:
        return "it holds Python objects, which a cache never does"
    if dtype is not None and found != np.dtype(dtype):
        return f"dtype {found}, expected {np.dtype(dtype)}"
    if kind is not None and found.kind not in kind:
        return f"dtype {found}, expected one of kind {kind!r}"
    if ndim is not None and len(shape) != ndim:
        return f"shape {shape}, expected {ndim} dimensions"
    if length is not None and (not shape or shape[0] != length):
        return f"shape {shape}, expected {length} rows"
    if tail is not None and tuple(shape[1:]) != tuple(tail):
        return f"shape {shape}, expected rows of shape {tuple(tail)}"
    return ""


def rebuild_once(read: Callable[[], T], discard: Callable[[], None], what: str) -> T:
    """``read()``; if it finds a damaged file, log it, ``discard()`` the entry (its content key says what it must
    hold, so the next build makes the same) and ``read()`` once more (which builds it anew)."""
    try:
        return read()
    except DamagedCacheError as exc:
        log.warning("%s: cached file %s is damaged (%s); rebuilding it", what, exc.path, exc.problem)
        discard()
        return read()


def cached_array(path: Path, build: Callable[[], np.ndarray], what: str,
                 check: Callable[[np.ndarray], str] | None = None, **expect) -> np.ndarray:
    """The array of the content-keyed cache file ``path``: written once by ``build()`` (lanes that share the cache
    wait for one builder), read with ``load_cached(path, **expect)`` and ``check`` (the problem with the array, or
    ""), and, if damaged, deleted and built once more."""
    path = Path(path)

    def read() -> np.ndarray:
        built_once(path, lambda target: save_npy(target, build()))
        array = load_cached(path, **expect)
        problem = check(array) if check else ""
        if problem:
            raise DamagedCacheError(path, problem)
        return array

    return rebuild_once(read, lambda: path.unlink(missing_ok=True), what)

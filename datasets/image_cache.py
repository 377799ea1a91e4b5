"""Decode and resize images once into a content-keyed uint8 array cache, re-opened memory-mapped.

A cache entry is the folder ``cache_dir/images/<key>/``: ``images.npy`` (uint8 N×H×W×3), ``kept.npy`` (indices
of the decoded sources) and ``skipped.json`` (names of missing and corrupt images). It is built in a temporary
folder beside it and renamed into place, so a crash never leaves a half-written entry. The key covers everything
the arrays depend on, including each image file's size and modification time, so a changed file means a new entry.
Every read is checked (``benchmark/core/cached_arrays.py``); a damaged entry (a file cut short, another dtype or
shape, Python objects, unreadable ``skipped.json``) is logged, deleted and built anew, the same since its key says
what it holds.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from benchmark.core.cached_arrays import DamagedCacheError, load_cached, rebuild_once
from benchmark.core.errors import GFaceError
from benchmark.core.keys import content_key

log = logging.getLogger(__name__)

RESAMPLE = Image.Resampling.BICUBIC
DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)
BATCH = 256
SHOWN_NAMES = 5
T = TypeVar("T")


@dataclass(frozen=True)
class ImageSource:
    """One image to decode: its file, the name used in cache keys and messages, an optional crop box.

    ``box`` is (left, top, right, bottom) in pixels, cut from the image before resizing.
    """

    path: Path
    name: str
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class CachedImages:
    """The decoded images of a source list: ``images[i]`` is ``sources[kept[i]]``."""

    images: np.ndarray
    kept: np.ndarray
    missing: tuple[str, ...]
    corrupt: tuple[str, ...]
    key: str
    box_outside: tuple[str, ...] = ()

    def provenance(self) -> dict:
        return {"skipped_missing": len(self.missing), "skipped_corrupt": len(self.corrupt),
                "skipped_box_outside_image": len(self.box_outside)}


class BoxOutsideImage(ValueError):
    """A crop box that does not lie inside its image (PIL would pad the outside with black)."""


def decode_image(path: Path, size: int, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """PIL open, optional crop (a box not inside the image raises ``BoxOutsideImage``), convert to RGB, resize to
    size×size only when the size differs."""
    with Image.open(path) as opened:
        if box is not None and not (0 <= box[0] < box[2] <= opened.width and 0 <= box[1] < box[3] <= opened.height):
            raise BoxOutsideImage(f"box {box} outside the {opened.width}x{opened.height} image")
        image = opened.crop(box) if box is not None else opened
        image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), RESAMPLE)
    return np.asarray(image, dtype=np.uint8)


def cached_images(sources: Sequence[ImageSource], *, size: int, cache_dir: Path, key_parts: Sequence[bytes | str],
                  desc: str) -> CachedImages:
    """Decode ``sources`` once into the cache (or open the existing entry) and return them memory-mapped.

    ``key_parts`` names what else the arrays depend on (loader name and version, crop mode, label-file bytes);
    the image size and each file's name, byte size and mtime are added here. Missing and corrupt images are
    skipped, counted and reported (one warning line per kind); if no image can be decoded it is an error.
    """
    stats = [_stat(source.path) for source in sources]
    listing = "\n".join(f"{s.name}\t{st[0]}\t{st[1]}" if st else f"{s.name}\tmissing" for s, st in zip(sources, stats))
    key = content_key(*key_parts, f"size={size}", listing)
    present = [i for i, st in enumerate(stats) if st is not None]
    result = open_checked(Path(cache_dir), key, lambda tmp: _decode_into(tmp, sources, present, size, desc),
                          lambda folder: _read_entry(folder, key, size), desc)
    _report_skips(desc, result)
    if sources and not len(result.kept):
        raise GFaceError(f"{desc}: none of the {len(sources)} listed images could be read (first: "
                         f"{sources[0].path}). Check that the images are in the folder the loader names")
    return result


def open_or_build(cache_dir: Path, key: str, build: Callable[[Path], None]) -> Path:
    """The entry folder ``cache_dir/images/<key>``, first built by ``build(tmp_folder)`` and renamed atomically."""
    parent = cache_dir / "images"
    folder = parent / key
    if folder.is_dir():
        return folder
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=parent))
    try:
        build(tmp)
        os.replace(tmp, folder)
    except OSError:
        if not folder.is_dir():  # not a concurrent writer that finished first: a real failure
            raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def open_checked(cache_dir: Path, key: str, build: Callable[[Path], None], read: Callable[[Path], T], desc: str) -> T:
    """``read(entry folder)`` of the entry ``open_or_build`` gives; an entry ``read`` finds damaged
    (``DamagedCacheError``) is deleted and built once more."""
    return rebuild_once(lambda: read(open_or_build(cache_dir, key, build)),
                        lambda: shutil.rmtree(cache_dir / "images" / key, ignore_errors=True), desc)


def _read_entry(folder: Path, key: str, size: int) -> CachedImages:
    try:
        skipped = json.loads((folder / "skipped.json").read_text())
        missing, corrupt = tuple(skipped["missing"]), tuple(skipped["corrupt"])
        box_outside = tuple(skipped.get("box_outside", ()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DamagedCacheError(folder / "skipped.json", f"not the list of skipped images: {exc!r}") from None
    images = load_cached(folder / "images.npy", dtype=np.uint8, ndim=4, tail=(size, size, 3), mmap=True)
    kept = load_cached(folder / "kept.npy", kind="iu", ndim=1, length=len(images))
    return CachedImages(images=images, kept=kept, missing=missing, corrupt=corrupt, key=key, box_outside=box_outside)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def _decode_into(folder: Path, sources: Sequence[ImageSource], present: list[int], size: int, desc: str) -> None:
    """Decode the present sources into ``folder``, compacting away the ones that fail."""
    present_set = set(present)
    missing = [s.name for i, s in enumerate(sources) if i not in present_set]
    corrupt: list[str] = []
    box_outside: list[str] = []
    ok = np.zeros(len(present), dtype=bool)
    decoded = np.lib.format.open_memmap(folder / "decoded.npy", mode="w+", dtype=np.uint8,
                                        shape=(len(present), size, size, 3))

    def attempt(index: int) -> np.ndarray | str:
        source = sources[index]
        try:
            return decode_image(source.path, size, source.box)
        except FileNotFoundError:
            return "missing"
        except BoxOutsideImage:
            return "box_outside"
        except DECODE_ERRORS:
            return "corrupt"

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool, \
            tqdm(total=len(present), desc=f"decoding {desc}", unit="img", disable=len(present) < 500) as bar:
        for start in range(0, len(present), BATCH):
            batch = present[start:start + BATCH]
            for offset, outcome in enumerate(pool.map(attempt, batch)):
                if isinstance(outcome, np.ndarray):
                    decoded[start + offset] = outcome
                    ok[start + offset] = True
                else:
                    {"missing": missing, "box_outside": box_outside, "corrupt": corrupt}[outcome].append(
                        sources[batch[offset]].name)
            bar.update(len(batch))
    decoded.flush()
    kept = np.asarray(present, dtype=np.int64)[ok]
    if ok.all():
        del decoded
        os.replace(folder / "decoded.npy", folder / "images.npy")
    else:
        images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8,
                                           shape=(len(kept), size, size, 3))
        rows = np.flatnonzero(ok)
        for start in range(0, len(rows), BATCH):
            images[start:start + BATCH] = decoded[rows[start:start + BATCH]]
        images.flush()
        del images, decoded
        (folder / "decoded.npy").unlink()
    np.save(folder / "kept.npy", kept, allow_pickle=False)
    (folder / "skipped.json").write_text(json.dumps({"missing": missing, "corrupt": corrupt,
                                                     "box_outside": box_outside}))


def _report_skips(desc: str, result: CachedImages) -> None:
    for kind, names in (("missing", result.missing), ("corrupt", result.corrupt),
                        ("(face box outside the image)", result.box_outside)):
        if names:
            shown = ", ".join(names[:SHOWN_NAMES]) + (", ..." if len(names) > SHOWN_NAMES else "")
            log.warning("%s: skipped %d %s image(s): %s", desc, len(names), kind, shown)

"""FERPlus: FER2013 pixels (``fer2013.csv``) labelled by the FERPlus crowd votes (``fer2013new.csv``).

Rows of the two files are aligned by position and checked to be so; samples are keyed by row index, never by the
FERPlus image name (names drift from row indices and four repeat). Labels come from the official majority rule;
the ``emotion`` column of ``fer2013.csv`` (the old FER2013 label, another class order) is never read.
Training rows form the train split, PrivateTest rows the test split; PublicTest (validation) rows are left out.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import DATASETS
from benchmark.core.data import FERData, data_folders, resolve_data_root
from benchmark.core.text_files import OFFICIAL_FILE_FIX, decode_text
from benchmark.core.keys import content_key
from benchmark.core.cached_arrays import load_cached
from datasets.image_cache import RESAMPLE, open_checked

CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
VOTE_COLUMNS = (*CLASSES, "unknown", "NF")
UNKNOWN, NOT_FACE, CONTEMPT = 8, 9, 7
LABELS_HEADER = ("Usage", "Image name", *VOTE_COLUMNS)
SPLITS = ("Training", "PublicTest", "PrivateTest")
NATIVE_SIZE = 48
LOADER_VERSION = "ferplus-1"
OBTAIN_FROM = ("the FERPlus labels fer2013new.csv from https://github.com/microsoft/FERPlus and the FER2013 "
               "pixels fer2013.csv from the Kaggle FER2013 challenge ('Challenges in Representation Learning: "
               "Facial Expression Recognition Challenge')")


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """The official ``majority`` rule on (N, 10) vote counts: 0..7 an emotion, 8 unknown, 9 not a face.

    Counts of at most 1 are zeroed as outliers; the top count must exceed half of the remaining votes,
    otherwise (ties and no votes included) the sample is unknown.
    """
    kept = np.where(votes <= 1, 0, votes)
    return np.where(kept.max(axis=1) > 0.5 * kept.sum(axis=1), kept.argmax(axis=1), UNKNOWN)


def load_ferplus_from(folder: Path, cache_dir: Path, *, with_contempt: bool = True,
                      image_size: int = NATIVE_SIZE) -> FERData:
    """FERPlus from a folder holding ``fer2013.csv`` and ``fer2013new.csv``; 8 classes, or 7 without contempt."""
    folder = Path(folder)
    pixels_path, labels_path = folder / "fer2013.csv", folder / "fer2013new.csv"
    missing = [str(p) for p in (pixels_path, labels_path) if not p.is_file()]
    if missing:
        raise MissingFileError(f"FERPlus in {folder}: missing {', '.join(missing)}. Obtain {OBTAIN_FROM}")
    name = "ferplus" if with_contempt else "ferplus7"
    class_names = CLASSES if with_contempt else CLASSES[:CONTEMPT]
    label_bytes = labels_path.read_bytes()
    usage, named, votes = parse_votes(label_bytes, labels_path)
    labels = majority_labels(votes)
    used = named & (usage != SPLITS.index("PublicTest"))
    keep = used & (labels < len(class_names))
    rows = np.flatnonzero(keep)
    stat = pixels_path.stat()
    key = content_key(name, LOADER_VERSION, f"size={image_size}", label_bytes,
                      f"fer2013.csv\t{stat.st_size}\t{stat.st_mtime_ns}")
    images = open_checked(Path(cache_dir), key,
                          lambda tmp: _write_pixels(tmp, pixels_path, usage, rows, image_size, name),
                          lambda entry: load_cached(entry / "images.npy", dtype=np.uint8, length=len(rows),
                                                    tail=(image_size, image_size, 3), mmap=True), name)
    is_train = usage[rows] == SPLITS.index("Training")
    return FERData(
        name=name, class_names=class_names,
        images=images,
        labels=labels[rows].astype(np.int64), is_train=is_train,
        sample_ids=tuple(f"{'train' if t else 'test'}/r{r:05d}" for r, t in zip(rows, is_train)),
        content_key=content_key(name, key),
        provenance={"image_size": image_size,
                    "validation_rows_excluded": int((usage == SPLITS.index("PublicTest")).sum()),
                    "dropped_unnamed": int((~named & (usage != SPLITS.index("PublicTest"))).sum()),
                    "dropped_unknown": int((used & (labels == UNKNOWN)).sum()),
                    "dropped_not_face": int((used & (labels == NOT_FACE)).sum()),
                    **({} if with_contempt else {"dropped_contempt": int((used & (labels == CONTEMPT)).sum())})})


@DATASETS.register("ferplus")
@data_folders("ferplus")
def ferplus(data_root: Path | None, cache_dir: Path) -> FERData:
    """FERPlus: 8 classes by the official majority vote, 48 px grey faces as RGB (DIR/ferplus)."""
    return load_ferplus_from(resolve_data_root(data_root, "ferplus", "ferplus", OBTAIN_FROM), cache_dir)


@DATASETS.register("ferplus7")
@data_folders("ferplus")
def ferplus7(data_root: Path | None, cache_dir: Path) -> FERData:
    """FERPlus without contempt: 7 classes (DIR/ferplus)."""
    return load_ferplus_from(resolve_data_root(data_root, "ferplus", "ferplus7", OBTAIN_FROM), cache_dir,
                             with_contempt=False)


def parse_votes(label_bytes: bytes, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per data row of ``fer2013new.csv``: split index into ``SPLITS``, whether it names an image, 10 votes."""
    reader = csv.reader(io.StringIO(decode_text(label_bytes, path, OFFICIAL_FILE_FIX)))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != LABELS_HEADER:
        raise GFaceError(f"{path}, line 1: expected the header {','.join(LABELS_HEADER)}, got {header}. "
                         f"Use the fer2013new.csv of https://github.com/microsoft/FERPlus")
    usage, named, votes = [], [], []
    for row in reader:
        if not row:
            continue
        try:
            if len(row) != len(LABELS_HEADER) or row[0] not in SPLITS:
                raise ValueError
            counts = [int(v) for v in row[2:]]
            if min(counts) < 0:
                raise ValueError
        except ValueError:
            raise GFaceError(f"{path}, line {reader.line_num}: expected a usage in {SPLITS}, an image name and 10 "
                             f"non-negative vote counts, got {','.join(row)!r}. Restore the official file") from None
        usage.append(SPLITS.index(row[0]))
        named.append(bool(row[1].strip()))
        votes.append(counts)
    return (np.asarray(usage, dtype=np.int64), np.asarray(named, dtype=bool),
            np.asarray(votes, dtype=np.int64).reshape(-1, len(VOTE_COLUMNS)))


def _write_pixels(folder: Path, pixels_path: Path, usage: np.ndarray, rows: np.ndarray, size: int,
                  desc: str) -> None:
    """Check ``fer2013.csv`` row-aligns with the votes and write the chosen rows as uint8 (n, size, size, 3)."""
    images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8,
                                       shape=(len(rows), size, size, 3))
    slot = {int(r): i for i, r in enumerate(rows)}
    count = 0
    with open(pixels_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(_utf8_lines(handle, pixels_path))
        header = next(reader, None) or []
        if "pixels" not in header or "Usage" not in header:
            raise GFaceError(f"{pixels_path}, line 1: expected a header with columns 'pixels' and 'Usage', got "
                             f"{header}. Use the original FER2013 fer2013.csv")
        pixels_col, usage_col = header.index("pixels"), header.index("Usage")
        for row in tqdm(reader, total=len(usage), desc=f"reading {desc} pixels", unit="row", disable=len(usage) < 5000):
            if not row:
                continue
            if count < len(usage) and (len(row) != len(header) or row[usage_col] != SPLITS[usage[count]]):
                raise GFaceError(f"{pixels_path}, line {reader.line_num}: data row {count} has usage "
                                 f"{row[usage_col] if len(row) == len(header) else row!r} but fer2013new.csv says "
                                 f"{SPLITS[usage[count]]!r}; the two files must list the same rows in the same "
                                 f"order. Use the original, unsorted files")
            if count in slot:
                images[slot[count]] = _gray_to_rgb(_parse_pixels(row[pixels_col], pixels_path, reader.line_num), size)
            count += 1
    if count != len(usage):
        raise GFaceError(f"{pixels_path} has {count} data rows but fer2013new.csv has {len(usage)}; the two files "
                         f"must list the same rows in the same order. Use the original, complete files")
    images.flush()


def _utf8_lines(handle, path: Path):
    """The lines of a text file opened as UTF-8; a byte that is not UTF-8 is one clear error naming the file."""
    try:
        yield from handle
    except UnicodeDecodeError:
        raise GFaceError(f"{path} is not UTF-8 text; restore the original FER2013 fer2013.csv") from None


def _parse_pixels(field: str, path: Path, line: int) -> np.ndarray:
    try:
        values = np.array(field.split(), dtype=np.int64)
    except ValueError:
        values = np.empty(0, dtype=np.int64)
    if values.size != NATIVE_SIZE * NATIVE_SIZE or values.min() < 0 or values.max() > 255:
        raise GFaceError(f"{path}, line {line}: 'pixels' must hold {NATIVE_SIZE * NATIVE_SIZE} integers 0..255 "
                         f"separated by spaces. Restore the original fer2013.csv")
    return values.astype(np.uint8).reshape(NATIVE_SIZE, NATIVE_SIZE)


def _gray_to_rgb(gray: np.ndarray, size: int) -> np.ndarray:
    if size != NATIVE_SIZE:
        gray = np.asarray(Image.fromarray(gray).resize((size, size), RESAMPLE))
    return np.repeat(gray[:, :, None], 3, axis=2)

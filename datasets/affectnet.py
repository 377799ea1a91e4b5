"""AffectNet (manually annotated part), 8 classes or 7 without contempt; the official validation list is the test set.

Lists: ``Manually_Annotated_file_lists/{training,validation}.csv`` with columns ``subDirectory_filePath, face_x,
face_y, face_width, face_height, facial_landmarks, expression, valence, arousal`` (a header row may be absent).
Images: ``Manually_Annotated_Images/<subDirectory_filePath>``, cropped to the face box (x, y, x+w, y+h) and
resized, or read as they are when the distribution ships pre-cropped faces.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import DATASETS
from benchmark.core.data import FERData, data_folders, resolve_data_root
from benchmark.core.text_files import OFFICIAL_FILE_FIX, decode_text
from benchmark.core.keys import content_key
from datasets.image_cache import DECODE_ERRORS, ImageSource, cached_images

CLASSES = ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt")
MAX_CODE = 10  # 8 None, 9 Uncertain, 10 No-Face: valid codes, never kept
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
           "expression", "valence", "arousal")
USED_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")
LIST_DIR = Path("Manually_Annotated_file_lists")
IMAGE_DIR = Path("Manually_Annotated_Images")
LISTS = (("train", "training.csv"), ("test", "validation.csv"))
CROP_MODES = ("auto", "box", "none")
DETECTION_SAMPLE = 32
DEFAULT_SIZE = 112
LOADER_VERSION = "affectnet-2"  # 2: face boxes outside the image are skipped
OBTAIN_FROM = "http://mohammadmahoor.com/affectnet/ (licence-gated; request access there)"

Row = tuple[str, tuple[int, int, int, int], int]  # path, box (left, top, right, bottom), expression code


def load_affectnet_from(folder: Path, cache_dir: Path, *, n_classes: int = 8, crop: str = "auto",
                        image_size: int = DEFAULT_SIZE) -> FERData:
    """AffectNet from its folder. ``crop``: "box" crops the face box, "none" reads pre-cropped images as they
    are, "auto" decides from the first readable images whether their face boxes fit inside them."""
    if n_classes not in (7, 8) or crop not in CROP_MODES:
        raise GFaceError(f"AffectNet: n_classes must be 7 or 8 and crop one of {CROP_MODES}; got {n_classes}, "
                         f"{crop!r}")
    folder = Path(folder)
    expected = [folder / LIST_DIR / file for _, file in LISTS] + [folder / IMAGE_DIR]
    missing = [str(p) for p in expected if not p.exists()]
    if missing:
        raise MissingFileError(f"AffectNet in {folder}: missing {', '.join(missing)}. Expected "
                               f"{LIST_DIR}/training.csv, {LIST_DIR}/validation.csv and {IMAGE_DIR}/; obtain "
                               f"AffectNet from {OBTAIN_FROM}")
    name = f"affectnet{n_classes}"
    list_bytes, rows, splits = [], [], []
    for split, file in LISTS:
        data = (folder / LIST_DIR / file).read_bytes()
        kept = [row for row in parse_list(data, folder / LIST_DIR / file) if row[2] < n_classes]
        list_bytes.append(data)
        rows += kept
        splits += [split] * len(kept)
    mode = detect_crop(folder / IMAGE_DIR, rows) if crop == "auto" else crop
    sources = [ImageSource(folder / IMAGE_DIR / path, f"{IMAGE_DIR}/{path}", box if mode == "box" else None)
               for path, box, _ in rows]
    cache = cached_images(sources, size=image_size, cache_dir=cache_dir, desc=name,
                          key_parts=[name, LOADER_VERSION, f"crop={mode}", *list_bytes])
    labels = np.array([code for _, _, code in rows], dtype=np.int64)
    ids = [f"{split}/{path}" for split, (path, _, _) in zip(splits, rows)]
    return FERData(name=name, class_names=CLASSES[:n_classes], images=cache.images, labels=labels[cache.kept],
                   is_train=np.array(splits)[cache.kept] == "train", sample_ids=tuple(ids[k] for k in cache.kept),
                   content_key=content_key(name, cache.key),
                   provenance={**cache.provenance(), "image_size": image_size, "crop": mode,
                               "crop_detected": crop == "auto"})


@DATASETS.register("affectnet8")
@data_folders("affectnet")
def affectnet8(data_root: Path | None, cache_dir: Path) -> FERData:
    """AffectNet manually annotated: 8 classes; test = official validation set (DIR/affectnet)."""
    return load_affectnet_from(resolve_data_root(data_root, "affectnet", "affectnet8", OBTAIN_FROM), cache_dir)


@DATASETS.register("affectnet7")
@data_folders("affectnet")
def affectnet7(data_root: Path | None, cache_dir: Path) -> FERData:
    """AffectNet manually annotated, contempt dropped: 7 classes (DIR/affectnet)."""
    return load_affectnet_from(resolve_data_root(data_root, "affectnet", "affectnet7", OBTAIN_FROM), cache_dir,
                               n_classes=7)


def parse_list(data: bytes, path: Path) -> list[Row]:
    """Every row of a list file; the first row is a header only when its ``face_x`` field is not a number."""
    reader = csv.reader(io.StringIO(decode_text(data, path, OFFICIAL_FILE_FIX)))
    first = next(reader, None) or []
    if len(first) > 1 and not _is_number(first[1]):
        header = [h.strip() for h in first]
        absent = [c for c in USED_COLUMNS if c not in header]
        if absent:
            raise GFaceError(f"{path}, line 1: header lacks {absent}; expected the columns {', '.join(COLUMNS)}")
        columns, body = [header.index(c) for c in USED_COLUMNS], reader
    else:
        columns, body = [COLUMNS.index(c) for c in USED_COLUMNS], _chain(first, reader)
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    for row in body:
        if not row:
            continue
        line = reader.line_num
        try:
            image, *numbers = (row[c].strip() for c in columns)
            x, y, w, h, code = (int(v) for v in numbers)
            if not image or not 0 <= code <= MAX_CODE or (code < len(CLASSES) and (w <= 0 or h <= 0)):
                raise ValueError
        except (IndexError, ValueError):
            raise GFaceError(f"{path}, line {line}: expected an image path, integer face box with positive "
                             f"size and expression code 0..{MAX_CODE}, got {','.join(row)[:200]!r}. Restore the "
                             f"official list") from None
        if image in first_line:
            raise GFaceError(f"{path}, line {line}: {image} is listed again (first on line "
                             f"{first_line[image]}). Restore the official list")
        first_line[image] = line
        rows.append((image, (x, y, x + w, y + h), code))
    return rows


def detect_crop(image_dir: Path, rows: list[Row]) -> str:
    """"box" when face boxes lie inside the first readable images, "none" when they overrun them (pre-cropped).

    A box covering the whole image fits both readings and casts no vote.
    """
    fits: list[bool] = []
    for path, (left, top, right, bottom), _ in rows:
        try:
            with Image.open(image_dir / path) as image:
                width, height = image.size
        except DECODE_ERRORS:
            continue
        inside = left >= -1 and top >= -1 and right <= width + 1 and bottom <= height + 1
        if inside and left <= 1 and top <= 1 and right >= width - 1 and bottom >= height - 1:
            continue
        fits.append(inside)
        if len(fits) == DETECTION_SAMPLE:
            break
    share = float(np.mean(fits)) if fits else 1.0
    if 0.1 < share < 0.9:
        raise GFaceError(f"AffectNet images in {image_dir}: the face box lies inside {share:.0%} of the first "
                         f"{len(fits)} readable images, so they mix full and pre-cropped images. Use one kind only, "
                         f"or pass crop='box' or crop='none' to load_affectnet_from")
    return "box" if share >= 0.9 else "none"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _chain(first: list[str], rest):
    yield first
    yield from rest

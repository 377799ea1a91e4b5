"""Builders of tiny datasets in the official RAF-DB, FERPlus and AffectNet formats, written at test time.

Images are uniform grey squares whose level encodes the label code (``code_level``), so a test can check from the
pixels alone that every loaded label belongs to its own image.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

LEVEL_STEP = 20


def code_level(code: int) -> int:
    """Grey level that encodes a label code (0..10) in fixture images."""
    return LEVEL_STEP * code + 10


def decoded_code(image: np.ndarray) -> int:
    """The code a loaded fixture image encodes (JPEG noise tolerated)."""
    return int(round((float(np.mean(image)) - 10) / LEVEL_STEP))


def grey_image(level: int, size: int, channels: int = 3) -> np.ndarray:
    shape = (size, size, 3) if channels == 3 else (size, size)
    return np.full(shape, level, dtype=np.uint8)


def save_image(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=95)


def save_corrupt_jpeg(path: Path) -> None:
    """A file named like a JPEG that holds the first bytes of a real JPEG only (truncated)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, grey_image(128, 32))
    path.write_bytes(path.read_bytes()[:200])


# --- RAF-DB -------------------------------------------------------------------------------------------------

def raf_entries(n_classes: int, n_train: int = 2, n_test: int = 1) -> list[tuple[str, int]]:
    """(stem, 1-based code) pairs: ``n_train`` train and ``n_test`` test images for every code, interleaved."""
    entries = []
    for k in range(n_train):
        entries += [(f"train_{k * n_classes + c:05d}", c) for c in range(1, n_classes + 1)]
    for k in range(n_test):
        entries += [(f"test_{k * n_classes + c:04d}", c) for c in range(1, n_classes + 1)]
    return entries


def write_rafdb(folder: Path, entries: Sequence[tuple[str, int]], *, size: int = 100,
                extra_lines: Sequence[str] = (), grayscale: Sequence[str] = (), missing: Sequence[str] = (),
                corrupt: Sequence[str] = (), level_offset: int = 0) -> None:
    """A RAF-DB subset folder: label file (``extra_lines`` appended verbatim) and aligned images."""
    (folder / "EmoLabel").mkdir(parents=True, exist_ok=True)
    lines = [f"{stem}.jpg {code}" for stem, code in entries] + list(extra_lines)
    (folder / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    for stem, code in entries:
        path = folder / "Image" / "aligned" / f"{stem}_aligned.jpg"
        if stem in missing:
            continue
        if stem in corrupt:
            save_corrupt_jpeg(path)
        else:
            save_image(path, grey_image(code_level(code) + level_offset, size, 1 if stem in grayscale else 3))
    (folder / "Image" / "aligned").mkdir(parents=True, exist_ok=True)


# --- FERPlus ------------------------------------------------------------------------------------------------

FER_HEADER = ["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
              "contempt", "unknown", "NF"]


def row_pixels(row: int) -> np.ndarray:
    """Distinct 48×48 grey pixels for data row ``row`` (pixel 0 holds row % 256, pixel 1 holds row // 256)."""
    pixels = np.full(48 * 48, 77, dtype=np.uint8)
    pixels[0], pixels[1] = row % 256, row // 256
    return pixels


def write_fer2013(folder: Path, usages: Sequence[str], *, emotions: Sequence[int] | None = None,
                  pixel_override: dict[int, str] | None = None) -> None:
    """``fer2013.csv`` with one row per usage; ``emotion`` filled with values a loader must ignore."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "fer2013.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["emotion", "pixels", "Usage"])
        for row, usage in enumerate(usages):
            pixels = (pixel_override or {}).get(row, " ".join(map(str, row_pixels(row))))
            writer.writerow([emotions[row] if emotions else 3, pixels, usage])


def write_fer2013new(folder: Path, rows: Sequence[tuple[str, str, Sequence[int]]],
                     extra_lines: Sequence[str] = ()) -> None:
    """``fer2013new.csv`` from (usage, image name, 10 votes) rows; ``extra_lines`` appended verbatim."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(FER_HEADER)] + [",".join([u, n, *map(str, v)]) for u, n, v in rows] + list(extra_lines)
    (folder / "fer2013new.csv").write_text("\n".join(lines) + "\n")


def one_hot_votes(index: int, count: int = 10) -> list[int]:
    votes = [0] * 10
    votes[index] = count
    return votes


# --- AffectNet ----------------------------------------------------------------------------------------------

AFFECTNET_HEADER = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
                    "expression", "valence", "arousal"]
BACKGROUND = 250


def write_affectnet(folder: Path, lists: dict[str, Sequence[tuple[str, tuple[int, int, int, int], int]]], *,
                    header: bool = True, precropped: bool = False, image_shape: tuple[int, int] = (96, 128),
                    missing: Sequence[str] = (), corrupt: Sequence[str] = (),
                    extra_lines: dict[str, Sequence[str]] | None = None) -> None:
    """AffectNet folder from ``{"training.csv": rows, "validation.csv": rows}``, rows = (path, (x, y, w, h), code).

    Full images are ``image_shape`` (height, width) of ``BACKGROUND`` grey with the face box at the code's level;
    pre-cropped images are the box alone.
    """
    list_dir = folder / "Manually_Annotated_file_lists"
    list_dir.mkdir(parents=True, exist_ok=True)
    (folder / "Manually_Annotated_Images").mkdir(exist_ok=True)
    for file, rows in lists.items():
        lines = [",".join(AFFECTNET_HEADER)] if header else []
        lines += [f"{p},{x},{y},{w},{h},1.0;2.0;3.0,{code},0.1,-0.2" for p, (x, y, w, h), code in rows]
        lines += list((extra_lines or {}).get(file, ()))
        (list_dir / file).write_text("\n".join(lines) + "\n")
        for path, (x, y, w, h), code in rows:
            target = folder / "Manually_Annotated_Images" / path
            if path in missing:
                continue
            if path in corrupt:
                save_corrupt_jpeg(target)
                continue
            if precropped:
                pixels = np.full((h, w, 3), code_level(code), dtype=np.uint8)
            else:
                pixels = np.full((*image_shape, 3), BACKGROUND, dtype=np.uint8)
                pixels[y:y + h, x:x + w] = code_level(code)
            save_image(target, pixels)

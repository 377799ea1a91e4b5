"""RAF-DB basic (7 classes) and RAF-DB compound (basic ∪ compound, 18 classes) in the official layout.

A subset folder holds ``EmoLabel/list_patition_label.txt`` (lines ``train_00001.jpg 5``, 1-based codes) and
``Image/aligned/<stem>_aligned.jpg``. The parsing functions take any folder, so a synthetic set written in this
layout is read back by the same code.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import DATASETS
from benchmark.core.data import FERData, data_folders, resolve_data_root
from benchmark.core.text_files import OFFICIAL_FILE_FIX, decode_text
from benchmark.core.keys import content_key
from datasets.image_cache import ImageSource, cached_images
from datasets.classes import BASIC_CLASSES, COMPOUND_CLASSES

log = logging.getLogger(__name__)

OBTAIN_FROM = "http://www.whdeng.cn/RAF/model1.html#dataset"
LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
IMAGE_DIR = Path("Image") / "aligned"
NAME_PATTERN = re.compile(r"(train_\d{5}|test_\d{4})\.jpg")
NATIVE_SIZE = 100
LOADER_VERSION = "rafdb-1"


@dataclass(frozen=True)
class RafSubset:
    """One parsed subset: per line of its label file, the image, the 0-based label and the split."""

    namespace: str
    label_bytes: bytes
    sources: tuple[ImageSource, ...]
    labels: np.ndarray
    is_train: np.ndarray
    sample_ids: tuple[str, ...]


def load_rafdb_basic_from(folder: Path, cache_dir: Path, *, image_size: int = NATIVE_SIZE) -> FERData:
    """RAF-DB basic from a folder in the official layout: 7 classes, native order ``BASIC_CLASSES``."""
    check_layout(Path(folder))
    basic = read_subset(Path(folder), "basic", BASIC_CLASSES)
    return _assemble("rafdb-basic", BASIC_CLASSES, [basic], cache_dir, image_size)


def load_rafdb_compound_from(basic_folder: Path, compound_folder: Path, cache_dir: Path, *,
                             image_size: int = NATIVE_SIZE) -> FERData:
    """Basic ∪ compound: 18 classes, the 7 basic names then the 11 compound names (compound codes offset by 7)."""
    check_layout(Path(basic_folder), Path(compound_folder))
    basic = read_subset(Path(basic_folder), "basic", BASIC_CLASSES)
    compound = read_subset(Path(compound_folder), "compound", COMPOUND_CLASSES)
    data = _assemble("rafdb-compound", BASIC_CLASSES + COMPOUND_CLASSES, [basic, compound], cache_dir,
                     image_size, label_offsets=(0, len(BASIC_CLASSES)))
    shared = _images_in_both(data.images, data.sample_ids)
    data.provenance["images_in_both_subsets"] = shared
    if shared:
        log.warning("rafdb-compound: %d image(s) of the compound subset are pixel-identical to basic-subset "
                    "images; the subsets are expected to be disjoint", shared)
    return data


@DATASETS.register("rafdb-basic")
@data_folders("raf-basic")
def rafdb_basic(data_root: Path | None, cache_dir: Path) -> FERData:
    """RAF-DB basic: 7 classes, 12,271 train / 3,068 test aligned 100 px faces (DIR/raf-basic)."""
    return load_rafdb_basic_from(resolve_data_root(data_root, "raf-basic", "rafdb-basic", OBTAIN_FROM), cache_dir)


@DATASETS.register("rafdb-compound")
@data_folders("raf-basic", "raf-compound")
def rafdb_compound(data_root: Path | None, cache_dir: Path) -> FERData:
    """RAF-DB basic + compound: 18 classes (7 basic, 11 compound), ids namespaced (DIR/raf-basic, DIR/raf-compound)."""
    basic = resolve_data_root(data_root, "raf-basic", "rafdb-compound", OBTAIN_FROM)
    compound = resolve_data_root(data_root, "raf-compound", "rafdb-compound", OBTAIN_FROM)
    return load_rafdb_compound_from(basic, compound, cache_dir)


def check_layout(*folders: Path) -> None:
    """One error naming every missing label file or image folder of the given subset folders."""
    missing = [str(p) for folder in folders for p, present in ((folder / LABEL_FILE, Path.is_file),
                                                                 (folder / IMAGE_DIR, Path.is_dir)) if not present(p)]
    if missing:
        raise MissingFileError(f"RAF-DB: missing {', '.join(missing)}. Each subset folder needs {LABEL_FILE} and "
                               f"{IMAGE_DIR}/<name>_aligned.jpg; obtain RAF-DB from {OBTAIN_FROM}")


def read_subset(folder: Path, namespace: str, class_names: tuple[str, ...]) -> RafSubset:
    """Parse a subset's label file; every line must be well formed and use a known code."""
    label_path, image_dir = folder / LABEL_FILE, folder / IMAGE_DIR
    label_bytes = label_path.read_bytes()
    stems, codes = parse_label_lines(label_bytes, label_path, len(class_names))
    return RafSubset(
        namespace=namespace, label_bytes=label_bytes,
        sources=tuple(ImageSource(image_dir / f"{stem}_aligned.jpg", f"{namespace}/{IMAGE_DIR}/{stem}_aligned.jpg")
                      for stem in stems),
        labels=np.asarray(codes, dtype=np.int64) - 1,
        is_train=np.array([stem.startswith("train_") for stem in stems], dtype=bool),
        sample_ids=tuple(f"{namespace}/{stem}" for stem in stems))


def parse_label_lines(label_bytes: bytes, path: Path, n_classes: int) -> tuple[list[str], list[int]]:
    """Image stems and 1-based codes of a ``list_patition_label.txt``; blank lines are ignored.

    Each code 1..n_classes must occur at least once, which catches the basic and compound files swapped.
    """
    stems: list[str] = []
    codes: list[int] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(decode_text(label_bytes, path, OFFICIAL_FILE_FIX).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if (len(parts) != 2 or not NAME_PATTERN.fullmatch(parts[0]) or not parts[1].isdigit()
                or not 1 <= int(parts[1]) <= n_classes):
            raise GFaceError(f"{path}, line {number}: expected '<train_NNNNN|test_NNNN>.jpg <code>' with code "
                             f"1..{n_classes}, got {line!r}. Restore the official label file")
        stem = parts[0][:-len(".jpg")]
        if stem in first_line:
            raise GFaceError(f"{path}, line {number}: {parts[0]} is listed again (first on line "
                             f"{first_line[stem]}). Restore the official label file")
        first_line[stem] = number
        stems.append(stem)
        codes.append(int(parts[1]))
    absent = sorted(set(range(1, n_classes + 1)) - set(codes))
    if absent:
        raise GFaceError(f"{path}: codes {absent} never occur; a RAF-DB label file of this subset uses every code "
                         f"1..{n_classes}. Check that the basic and compound label files are not swapped")
    return stems, codes


def _assemble(name: str, class_names: tuple[str, ...], subsets: list[RafSubset], cache_dir: Path, image_size: int,
              label_offsets: tuple[int, ...] = (0,)) -> FERData:
    sources = [s for subset in subsets for s in subset.sources]
    cache = cached_images(sources, size=image_size, cache_dir=cache_dir, desc=name,
                          key_parts=[name, LOADER_VERSION, *(subset.label_bytes for subset in subsets)])
    labels = np.concatenate([subset.labels + offset for subset, offset in zip(subsets, label_offsets)])
    is_train = np.concatenate([subset.is_train for subset in subsets])
    ids = [i for subset in subsets for i in subset.sample_ids]
    return FERData(name=name, class_names=class_names, images=cache.images, labels=labels[cache.kept],
                   is_train=is_train[cache.kept], sample_ids=tuple(ids[k] for k in cache.kept),
                   content_key=content_key(name, cache.key),
                   provenance={**cache.provenance(), "image_size": image_size})


def _images_in_both(images: np.ndarray, sample_ids: tuple[str, ...]) -> int:
    """How many compound images have a pixel-identical twin among the basic images."""
    basic: set[bytes] = set()
    compound: list[bytes] = []
    for image, sample_id in zip(images, sample_ids):
        digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest()
        if sample_id.startswith("basic/"):
            basic.add(digest)
        else:
            compound.append(digest)
    return sum(d in basic for d in compound)

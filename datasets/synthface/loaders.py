"""Registered datasets "synthface-basic" (7 classes) and "synthface-compound" (basic ∪ compound, 18 classes), made
with expression model 3, and "synthface-v4-basic" / "synthface-v4-compound", the same made with expression model 4
(blends and annotation noise; expressions.py); "synthface-v4-basic-noiseless" / "-unblended" / "-narrow" are model-4
basic with one factor set back (``CONTROLS``), for controlled comparisons only.

All use the default ``SynthConfig`` and seed 0; ``load_synthface`` takes others.

Generated arrays are cached under ``<cache_dir>/synthface/<key>/layout-2/<dataset>/`` as .npy files (written to a
temp folder, then renamed) and re-opened as read-only memory maps: ``images/images.npy`` alone in its folder (the
file name a memory map carries has no label file beside it), ``labels.npy``, ``is_train.npy`` and
``sample_ids.npy`` one level up. ``key`` covers the generator version, config, seed and expression model, so a
change to any of them regenerates; layout 1 (every array in one folder) is never read. Every read is checked
(``benchmark/core/cached_arrays.py``): a damaged entry (a file cut short, another dtype or shape, Python objects)
is logged, deleted and generated anew, the same arrays since the key fixes them.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

from benchmark.core.cached_arrays import load_cached, rebuild_once
from benchmark.core.registry import DATASETS
from benchmark.core.data import FaceSource, FERData
from benchmark.core.keys import content_key
from datasets.synthface.action_units import BASIC_CLASSES, COMPOUND_CLASSES
from datasets.synthface.expressions import BLENDED, CONTROLS, PROTOTYPE, ExpressionModel
from datasets.synthface.generate import GENERATOR_VERSION, SynthConfig, generate_subset
from datasets.synthface.pretraining_faces import FACE_POOL_SEED, face_pool

SEED = 0
# registered name -> (basic only?, expression model)
VARIANTS: dict[str, tuple[bool, ExpressionModel]] = {
    "synthface-basic": (True, PROTOTYPE), "synthface-compound": (False, PROTOTYPE),
    "synthface-v4-basic": (True, BLENDED), "synthface-v4-compound": (False, BLENDED),
    **{f"synthface-v4-basic-{control}": (True, model) for control, model in CONTROLS.items()}}
NAMES = tuple(VARIANTS)
_ARRAYS = ("images", "labels", "is_train", "sample_ids")
LAYOUT = "layout-2"  # 2: images.npy in a folder of its own, away from labels.npy
_FILES = {"images": Path("images") / "images.npy", "labels": Path("labels.npy"), "is_train": Path("is_train.npy"),
          "sample_ids": Path("sample_ids.npy")}


def synthface_key(config: SynthConfig, seed: int, expression: ExpressionModel = PROTOTYPE) -> str:
    return content_key(GENERATOR_VERSION, config.to_json(), str(seed), *expression.key_parts)


def load_synthface(name: str, cache_dir: Path, config: SynthConfig = SynthConfig(), seed: int = SEED) -> FERData:
    """A registered SynthFACE variant (``NAMES``) for a config and seed, generated once then cached."""
    if name not in VARIANTS:
        raise ValueError(f"unknown SynthFACE dataset {name!r}; choose one of {', '.join(NAMES)}")
    basic_only, expression = VARIANTS[name]
    key = synthface_key(config, seed, expression)
    folder = Path(cache_dir) / "synthface" / key / LAYOUT
    basic = _cached(folder / "synthface-basic", lambda: _subset_arrays("basic", config, seed, expression),
                    config.image_size)
    if basic_only:
        arrays, classes = basic, BASIC_CLASSES
    else:
        arrays = _cached(folder / "synthface-compound", lambda: _concatenate(
            basic, _subset_arrays("compound", config, seed, expression)), config.image_size)
        classes = BASIC_CLASSES + COMPOUND_CLASSES
    return FERData(name=name, class_names=classes, images=arrays["images"], labels=arrays["labels"],
                   is_train=arrays["is_train"], sample_ids=tuple(arrays["sample_ids"].tolist()),
                   content_key=content_key(name, key),
                   provenance={"generator": "synthface", "generator_version": expression.version, "seed": seed,
                               "image_size": config.image_size},
                   face_source=FaceSource(f"synthface-v{GENERATOR_VERSION}-{config.image_size}px-seed{FACE_POOL_SEED}",
                                          partial(face_pool, image_size=config.image_size)))


def _register(name: str) -> None:
    def load(data_root: Path | None, cache_dir: Path) -> FERData:
        return load_synthface(name, cache_dir)
    version = VARIANTS[name][1].version
    kind = (f"SynthFACE, expression model 4 with one factor set back (controls); model {version}"
            if VARIANTS[name][1] in CONTROLS.values() else f"SynthFACE, expression model {version}")
    load.__doc__ = f"{kind}; generated, so ``data_root`` is ignored."  # the board's data label: the first clause
    DATASETS.register(name)(load)


for _name in NAMES:
    _register(_name)


def _subset_arrays(subset: str, config: SynthConfig, seed: int, expression: ExpressionModel) -> dict[str, np.ndarray]:
    part = generate_subset(subset, config, seed, expression=expression)
    return {"images": part.images, "labels": part.labels, "is_train": part.is_train,
            "sample_ids": np.array([f"{subset}/{stem}" for stem in part.file_stems])}


def _concatenate(basic: dict[str, np.ndarray], compound: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Basic rows then compound rows; compound labels follow the 7 basic ones."""
    shifted = {**compound, "labels": compound["labels"] + len(BASIC_CLASSES)}
    return {name: np.concatenate([basic[name], shifted[name]]) for name in _ARRAYS}


def _cached(folder: Path, build, image_size: int) -> dict[str, np.ndarray]:
    """The arrays in ``folder``, generated by ``build()`` first if absent, or again if a file there is damaged."""
    return rebuild_once(lambda: _open(_generated(folder, build), image_size),
                        lambda: shutil.rmtree(folder, ignore_errors=True), f"SynthFACE {folder.name}")


def _generated(folder: Path, build) -> Path:
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        arrays = build()
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
        try:
            (tmp / _FILES["images"]).parent.mkdir()
            for name in _ARRAYS:
                np.save(tmp / _FILES[name], arrays[name], allow_pickle=False)
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():  # a concurrent writer that won the rename is fine
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _open(folder: Path, image_size: int) -> dict[str, np.ndarray]:
    """Read-only memory maps of the arrays in ``folder``, each checked against what ``_generated`` writes."""
    images = load_cached(folder / _FILES["images"], dtype=np.uint8, ndim=4, tail=(image_size, image_size, 3),
                         mmap=True)
    n = len(images)
    return {"images": images,
            "labels": load_cached(folder / _FILES["labels"], kind="iu", ndim=1, length=n, mmap=True),
            "is_train": load_cached(folder / _FILES["is_train"], dtype=bool, ndim=1, length=n, mmap=True),
            "sample_ids": load_cached(folder / _FILES["sample_ids"], kind="U", ndim=1, length=n, mmap=True)}

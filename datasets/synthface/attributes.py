"""SynthFACE's per-image attributes for the scorer side (``benchmark/core/attributes.py``): the person, the class
before annotation noise and the expression's intensity, drawn again from the generator's random stream (no pixels
rendered, so it takes a moment) and checked against the cached labels.

Intensity is the largest expression AU intensity of the face (FACS scale 0–1, before the person's resting offsets);
NaN for faces whose true class shows no expression (neutral), which have no intensity to speak of.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.attributes import IDENTITY, SampleAttributes
from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.core.registry import ATTRIBUTES
from datasets.synthface.action_units import BASIC_CLASSES, COMPOUND_CLASSES, prototype_matrix
from datasets.synthface.generate import SynthConfig, draw_subset
from datasets.synthface.loaders import NAMES, SEED, VARIANTS


def synthface_attributes(name: str, data: FERData, config: SynthConfig = SynthConfig(),
                         seed: int = SEED) -> SampleAttributes:
    """The attributes of registered SynthFACE variant ``name`` (rows as ``load_synthface`` orders them)."""
    basic_only, expression = VARIANTS[name]
    parts = [("basic", BASIC_CLASSES, 0)] + ([] if basic_only else [("compound", COMPOUND_CLASSES, len(BASIC_CLASSES))])
    ids, people, true, annotated, intensity = [], [], [], [], []
    for subset, classes, offset in parts:
        draw = draw_subset(subset, config, seed, expression)
        shows = prototype_matrix(classes).any(axis=1)[draw.true_labels]
        ids += [f"{subset}/{stem}" for stem in draw.file_stems]
        people.append(draw.identities)
        true.append(draw.true_labels + offset)
        annotated.append(draw.labels + offset)
        intensity.append(np.where(shows, draw.au.max(axis=1), np.nan))
    if not np.array_equal(np.concatenate(annotated), np.asarray(data.labels)):
        raise GFaceError(f"SynthFACE {name}: the labels drawn again differ from the cached ones; delete the cache "
                         f"folder synthface/ under --cache-dir so that the dataset is generated anew")
    attributes = SampleAttributes(sample_ids=tuple(ids), factors={IDENTITY: np.concatenate(people).astype(str)},
                                  true_labels=np.concatenate(true), intensity=np.concatenate(intensity))
    attributes.check(data)
    return attributes


def _register(name: str) -> None:
    def source(data_root: Path | None, cache_dir: Path, data: FERData) -> SampleAttributes:
        return synthface_attributes(name, data)
    ATTRIBUTES.register(name)(source)


for _name in NAMES:
    _register(_name)

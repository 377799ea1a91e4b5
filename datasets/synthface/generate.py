"""Generate the two SynthFACE subsets (basic: 7 classes, compound: 11 classes) like RAF-DB's.

A subset is a pure function of (config, seed): its own derived random stream draws labels, identities,
expressions and nuisance; images are rendered, then JPEG-encoded and decoded.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from benchmark.core.errors import GFaceError
from datasets.synthface.action_units import BASIC_CLASSES, COMPOUND_CLASSES, prototype_matrix
from datasets.synthface.expressions import PROTOTYPE, ExpressionModel
from datasets.synthface.identities import sample_identities
from datasets.synthface.jpeg import decode_jpeg, encode_jpeg
from datasets.synthface.nuisance import sample_nuisance
from datasets.synthface.renderer import render_faces

GENERATOR_VERSION = "3"
SUBSETS = ("basic", "compound")

# RAF-DB basic per-class counts (train, test), in BASIC_CLASSES order.
RAF_BASIC_TRAIN = (1290, 281, 717, 4772, 1982, 705, 2524)
RAF_BASIC_TEST = (329, 74, 160, 1185, 478, 162, 680)
# Compound class weights, in COMPOUND_CLASSES order: a suite choice (RAF-DB compound's per-class counts are
# not verified); imbalanced about 10:1 like the compound expressions reported in the wild.
COMPOUND_WEIGHTS = (700, 270, 130, 165, 90, 740, 150, 560, 175, 840, 150)

_SUBSET_TAG = {"basic": 0xBA51C, "compound": 0xC0A1D}


@dataclass(frozen=True)
class SynthConfig:
    """Sizes and resolution of the generated set (defaults: ~6.9k images at 48 px)."""

    image_size: int = 48
    n_identities: int = 300
    basic_train: int = 3000
    basic_test: int = 750
    compound_train: int = 1700
    compound_test: int = 430
    min_train_per_class: int = 40
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if self.image_size < 16:
            raise GFaceError(f"SynthFACE image_size must be at least 16 pixels, got {self.image_size}")
        if self.n_identities < 1 or min(self.basic_train, self.basic_test, self.compound_train,
                                        self.compound_test, self.min_train_per_class) < 0:
            raise GFaceError(f"SynthFACE sizes must be non-negative and n_identities >= 1: {self}")
        if not 1 <= self.jpeg_quality <= 100:
            raise GFaceError(f"SynthFACE jpeg_quality must be in 1..100, got {self.jpeg_quality}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class SynthSubset:
    """One generated subset, train rows first; ``file_stems`` are RAF-DB names ("train_00001", "test_0001")."""

    name: str
    class_names: tuple[str, ...]
    images: np.ndarray      # uint8 (N, S, S, 3), equal to decoding ``jpeg``
    jpeg: list[bytes]
    labels: np.ndarray      # int64 (N,), index into class_names, as annotated
    is_train: np.ndarray    # bool (N,)
    file_stems: tuple[str, ...]
    identities: np.ndarray  # int64 (N,)
    au: np.ndarray          # float32 (N, n_AU), expression AUs before the person's resting offsets
    true_labels: np.ndarray  # int64 (N,), the class whose prototype the face shows first (labels before noise)


def class_counts(total: int, weights: tuple[int, ...], minimum: int) -> np.ndarray:
    """Split total into counts proportional to weights (largest remainder); classes that would fall below
    minimum get exactly minimum and the others share the rest proportionally."""
    weights_ = np.asarray(weights, np.float64)
    if total < minimum * len(weights_):
        raise GFaceError(f"{total} images cannot give {len(weights_)} classes at least {minimum} each; raise "
                         f"the subset size or lower min_train_per_class")
    fixed = np.zeros(len(weights_), bool)
    while True:
        free = np.where(fixed, 0.0, weights_)
        share = (total - minimum * fixed.sum()) * free / free.sum()
        counts = np.floor(share).astype(np.int64)
        remainder = total - minimum * fixed.sum() - counts.sum()
        counts[np.argsort(-(share - counts), kind="stable")[:remainder]] += 1
        counts[fixed] = minimum
        low = ~fixed & (counts < minimum)
        if not low.any():
            return counts
        fixed |= low


def subset_classes(subset: str) -> tuple[str, ...]:
    return {"basic": BASIC_CLASSES, "compound": COMPOUND_CLASSES}[subset]


def _split_counts(subset: str, config: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    if subset == "basic":
        return (class_counts(config.basic_train, RAF_BASIC_TRAIN, config.min_train_per_class),
                class_counts(config.basic_test, RAF_BASIC_TEST, 0))
    return (class_counts(config.compound_train, COMPOUND_WEIGHTS, config.min_train_per_class),
            class_counts(config.compound_test, COMPOUND_WEIGHTS, 0))


@dataclass(frozen=True)
class SubsetDraw:
    """What a subset's random stream draws before rendering (cheap: no pixels): labels, people and expressions, and
    the stream itself, which goes on to draw the nuisance."""

    labels: np.ndarray       # int64 (N,), annotated
    true_labels: np.ndarray  # int64 (N,), before annotation noise
    is_train: np.ndarray
    file_stems: tuple[str, ...]
    identities: np.ndarray   # int64 (N,), person ids
    au: np.ndarray           # float32 (N, n_AU)
    rng: np.random.Generator


def draw_subset(subset: str, config: SynthConfig = SynthConfig(), seed: int = 0,
                expression: ExpressionModel = PROTOTYPE) -> SubsetDraw:
    """Labels, people and AU intensities of one subset, exactly as ``generate_subset`` draws them."""
    classes = subset_classes(subset)
    rng = np.random.default_rng([seed, _SUBSET_TAG[subset]])
    train_counts, test_counts = _split_counts(subset, config)
    labels = np.concatenate([rng.permutation(np.repeat(np.arange(len(classes)), counts))
                             for counts in (train_counts, test_counts)]).astype(np.int64)
    n_train, n = int(train_counts.sum()), len(labels)
    stems = tuple([f"train_{i + 1:05d}" for i in range(n_train)] + [f"test_{i + 1:04d}" for i in range(n - n_train)])
    people = rng.integers(0, config.n_identities, n).astype(np.int64)
    au, annotated = expression.sample(rng, prototype_matrix(classes), labels, [seed, _SUBSET_TAG[subset]])
    return SubsetDraw(labels=annotated, true_labels=labels, is_train=np.arange(n) < n_train, file_stems=stems,
                      identities=people, au=au, rng=rng)


def generate_subset(subset: str, config: SynthConfig = SynthConfig(), seed: int = 0,
                    progress: bool = True, expression: ExpressionModel = PROTOTYPE) -> SynthSubset:
    """Render one subset ("basic" or "compound") deterministically from (config, seed, expression model)."""
    draw = draw_subset(subset, config, seed, expression)
    used, inverse = np.unique(draw.identities, return_inverse=True)
    traits = sample_identities(used, seed).take(inverse)
    rendered = render_faces(draw.au, traits, sample_nuisance(draw.rng, len(draw.labels)), config.image_size,
                            progress=f"synthface {subset}" if progress else None)
    jpeg = encode_jpeg(rendered, config.jpeg_quality)
    return SynthSubset(name=subset, class_names=subset_classes(subset), images=decode_jpeg(jpeg), jpeg=jpeg,
                       labels=draw.labels, is_train=draw.is_train, file_stems=draw.file_stems,
                       identities=traits.ids, au=draw.au, true_labels=draw.true_labels)

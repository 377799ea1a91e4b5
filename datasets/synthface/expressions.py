"""Expression models: how a labelled sample's AU intensities (and, from version 4, its label) are drawn.

Version 3 ("prototype") shows every face as its class prototype at a random intensity. Version 4 ("blended") adds
what real FER data has and version 3 lacks (datasets/synthface/README.md, "Expression model 4"):

- a wider, continuous spread of intensities;
- blends: a share of expressive faces also show a second expression of the same subset, at a fraction of the first's
  intensity (neutral faces show nothing, so they are never blended);
- annotation noise that follows the face: the label names the second expression with a probability that grows
  with how strongly that expression shows, so wrong labels land on classes the image really resembles.

Version 4 draws from its own random stream, so labels-before-noise, identities and nuisance are those of
version 3 for the same seed: a before/after comparison changes the expressions and nothing else.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from benchmark.core.errors import GFaceError

_BLEND_STREAM = 0xB1E4D


@dataclass(frozen=True)
class ExpressionModel:
    """Intensity range, weak-sample share, blend share and strength, and label noise of one expression model."""

    version: str
    intensity: tuple[float, float]
    weak_fraction: float = 0.0
    weak_intensity: tuple[float, float] = (0.25, 0.55)
    blend_fraction: float = 0.0
    blend_weight: tuple[float, float] = (0.0, 0.0)   # second expression's strength relative to the first
    label_noise: float = 0.0                         # P(label = second class) for a blend of full weight

    def __post_init__(self) -> None:
        ranges = (self.intensity, self.weak_intensity, self.blend_weight)
        shares = (self.weak_fraction, self.blend_fraction, self.label_noise)
        if any(not 0.0 <= low <= high <= 1.0 for low, high in ranges) or any(not 0.0 <= s <= 1.0 for s in shares):
            raise GFaceError(f"expression model {self.version}: ranges must satisfy 0 <= low <= high <= 1 and "
                             f"shares must lie in [0, 1]: {self}")

    @property
    def key_parts(self) -> tuple[str, ...]:
        """What a dataset's cache key adds for this model: nothing for version 3, whose keys predate the field."""
        return () if self == PROTOTYPE else (repr(sorted(asdict(self).items())),)

    def sample(self, rng: np.random.Generator, prototypes: np.ndarray, labels: np.ndarray,
               stream: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """(AU intensities (N, n_AU) float32, labels as annotated (N,)) for true classes ``labels``.

        ``prototypes`` holds one row per class of the subset; ``stream`` seeds the blend draws (version 4 on).
        """
        base, intensity = _prototype_expressions(rng, prototypes[labels], self)
        if self.blend_fraction == 0.0:
            return base, labels
        blend_rng = np.random.default_rng([*stream, _BLEND_STREAM])
        n = len(labels)
        shows = prototypes.any(axis=1)  # per class: whether its prototype shows anything (neutral does not)
        second = _second_classes(blend_rng, labels, shows)
        # a neutral face has no first expression for the second to be weaker than
        blended = (blend_rng.random(n) < self.blend_fraction) & (second >= 0) & shows[labels]
        weight = np.where(blended, blend_rng.uniform(*self.blend_weight, n), 0.0)
        shown = prototypes[np.maximum(second, 0)] * (weight * intensity)[:, None]  # weaker than the first
        au = np.maximum(base, np.clip(shown * (1.0 + 0.15 * blend_rng.standard_normal(shown.shape)), 0.0, 1.0))
        top = max(self.blend_weight[1], 1e-9)
        flipped = blended & (blend_rng.random(n) < self.label_noise * weight / top)
        return au.astype(np.float32), np.where(flipped, second, labels).astype(np.int64)


PROTOTYPE = ExpressionModel(version="3", intensity=(0.6, 1.0), weak_fraction=0.07)
BLENDED = ExpressionModel(version="4", intensity=(0.25, 1.0), blend_fraction=0.5, blend_weight=(0.2, 0.8),
                          label_noise=0.25)
EXPRESSION_MODELS: dict[str, ExpressionModel] = {m.version: m for m in (PROTOTYPE, BLENDED)}
# Model 4 with one of its three factors set back, for the controlled comparisons of FINDINGS.md ("Does GCD's
# contrastive fine-tuning help over k-means on frozen features?"); datasets synthface-v4-basic-<name>. Same random
# streams as model 4, so "noiseless" renders model 4's very images and changes only the wrong labels.
CONTROLS: dict[str, ExpressionModel] = {
    "noiseless": replace(BLENDED, version="4-noiseless", label_noise=0.0),
    "unblended": replace(BLENDED, version="4-unblended", blend_fraction=0.0, blend_weight=(0.0, 0.0), label_noise=0.0),
    "narrow": replace(BLENDED, version="4-narrow", intensity=PROTOTYPE.intensity, weak_fraction=PROTOTYPE.weak_fraction),
}


def _prototype_expressions(rng: np.random.Generator, rows: np.ndarray,
                           model: ExpressionModel) -> tuple[np.ndarray, np.ndarray]:
    """(prototype × intensity × (1 + 15 % per-AU jitter) + noise (σ 0.04) + spurious AUs (p 0.05, up to 0.25),
    the intensity of each row)."""
    n, k = rows.shape
    weak = rng.random(n) < model.weak_fraction
    intensity = np.where(weak, rng.uniform(*model.weak_intensity, n), rng.uniform(*model.intensity, n))
    au = rows * intensity[:, None] * (1.0 + 0.15 * rng.standard_normal((n, k)))
    spurious = (rng.random((n, k)) < 0.05) * rng.uniform(0.0, 0.25, (n, k))
    return np.clip(au + 0.04 * rng.standard_normal((n, k)) + spurious, 0.0, 1.0).astype(np.float32), intensity


def _second_classes(rng: np.random.Generator, labels: np.ndarray, shows: np.ndarray) -> np.ndarray:
    """A second class per sample, uniform over the subset's other classes that show something (-1 if none)."""
    expressive = np.flatnonzero(shows)
    second = np.full(len(labels), -1, np.int64)
    for c in np.unique(labels):
        choices = expressive[expressive != c]
        rows = np.flatnonzero(labels == c)
        if len(choices):
            second[rows] = rng.choice(choices, len(rows))
    return second

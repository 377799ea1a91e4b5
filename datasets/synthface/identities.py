"""Identities: stable per-person traits (face shape, skin tone, eye spacing, brows, mouth, hair, glasses, beard).

An identity's traits are a pure function of (seed, identity id): every image of that person shares them.
Benchmark identities use ids below PRETRAIN_ID_OFFSET and pretraining identities ids from it on, so the two
pools never share a person whatever the seeds.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from datasets.synthface.action_units import AU_CODES, AU_INDEX

PRETRAIN_ID_OFFSET = 1_000_000
_STREAM = 0x1D
_N_UNIFORMS = 48

_SKIN_LIGHT = np.array([0.97, 0.82, 0.72], np.float32)
_SKIN_DARK = np.array([0.34, 0.22, 0.16], np.float32)
_HAIR_COLORS = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.30, 0.16], [0.78, 0.63, 0.38],
                         [0.55, 0.24, 0.10], [0.62, 0.61, 0.60]], np.float32)
_HAIR_WEIGHTS = np.array([0.34, 0.28, 0.16, 0.10, 0.05, 0.07])
_IRIS_COLORS = np.array([[0.22, 0.13, 0.07], [0.35, 0.22, 0.10], [0.25, 0.40, 0.55], [0.30, 0.42, 0.25]],
                        np.float32)
_IRIS_WEIGHTS = np.array([0.5, 0.25, 0.15, 0.10])
# AUs whose resting level varies between people (a "resting face": lower brows, down-turned mouth ...).
_RESTING_AUS = (1, 2, 4, 5, 7, 12, 15)


@dataclass(frozen=True)
class IdentityTraits:
    """Per-person traits, one row per identity (face units: the image spans [-1, 1] at scale 1)."""

    ids: np.ndarray          # (N,) int64
    face_rx: np.ndarray      # half width of the face
    face_ry: np.ndarray      # half height of the face
    skin: np.ndarray         # (N, 3) RGB in [0, 1]
    eye_dx: np.ndarray       # half the distance between the eye centres
    eye_y: np.ndarray
    eye_w: np.ndarray        # half width of an eye
    eye_h: np.ndarray        # resting half opening of an eye
    iris: np.ndarray         # (N, 3)
    brow_gap: np.ndarray     # resting distance brow - eye centre
    brow_thick: np.ndarray
    brow_arch: np.ndarray
    brow_len: np.ndarray
    nose_y: np.ndarray
    nose_w: np.ndarray
    mouth_y: np.ndarray
    mouth_w: np.ndarray      # half width of the mouth
    lip_up: np.ndarray       # upper-lip thickness
    lip_lo: np.ndarray       # lower-lip thickness
    lips: np.ndarray         # (N, 3)
    hair: np.ndarray         # (N, 3)
    hairline: np.ndarray     # y of the hairline at the face centre
    hair_volume: np.ndarray
    hair_length: np.ndarray  # 0 short .. 1 shoulder length
    hair_part: np.ndarray    # horizontal offset of the parting
    bald: np.ndarray         # bool
    glasses: np.ndarray      # bool
    glasses_color: np.ndarray  # (N, 3)
    beard: np.ndarray        # beard opacity, 0 = none
    resting_au: np.ndarray   # (N, len(AU_CODES)) offsets added to every expression of this person

    def take(self, rows: np.ndarray) -> "IdentityTraits":
        """Traits of the given rows (e.g. one row per image)."""
        return IdentityTraits(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def sample_identities(ids: np.ndarray, seed: int) -> IdentityTraits:
    """Traits of the given identity ids; each row depends only on (seed, id)."""
    ids = np.asarray(ids, np.int64)
    u = np.stack([np.random.default_rng([_STREAM, seed, int(i)]).random(_N_UNIFORMS) for i in ids]) \
        if len(ids) else np.zeros((0, _N_UNIFORMS))
    u = u.astype(np.float32)
    col = iter(range(_N_UNIFORMS))

    def uniform(low: float, high: float) -> np.ndarray:
        return (low + (high - low) * u[:, next(col)]).astype(np.float32)

    def choice(weights: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.cumsum(weights) / np.sum(weights), u[:, next(col)], side="right")

    tone = uniform(0.0, 1.0) ** 1.3
    skin = _SKIN_LIGHT + tone[:, None] * (_SKIN_DARK - _SKIN_LIGHT)
    skin = skin * np.stack([uniform(0.95, 1.05), uniform(0.95, 1.04), uniform(0.92, 1.06)], 1)
    hair = _HAIR_COLORS[np.minimum(choice(_HAIR_WEIGHTS), len(_HAIR_COLORS) - 1)] * uniform(0.8, 1.2)[:, None]
    iris = _IRIS_COLORS[np.minimum(choice(_IRIS_WEIGHTS), len(_IRIS_COLORS) - 1)]
    lip_mix = uniform(0.25, 0.5)[:, None]
    lips = (1 - lip_mix) * skin + lip_mix * np.array([0.62, 0.18, 0.2], np.float32)
    glasses_color = np.stack([uniform(0.0, 0.5)] * 3, 1) * np.stack([uniform(0.7, 1.0), uniform(0.6, 1.0),
                                                                    uniform(0.6, 1.0)], 1)
    beard_roll = uniform(0.0, 1.0)
    resting = np.zeros((len(ids), len(AU_CODES)), np.float32)
    for code in _RESTING_AUS:
        resting[:, AU_INDEX[code]] = uniform(-0.12, 0.12)
    return IdentityTraits(
        ids=ids, face_rx=uniform(0.74, 0.9), face_ry=uniform(1.0, 1.16), skin=np.clip(skin, 0, 1),
        eye_dx=uniform(0.29, 0.37), eye_y=uniform(-0.27, -0.19), eye_w=uniform(0.14, 0.18),
        eye_h=uniform(0.05, 0.07), iris=iris, brow_gap=uniform(0.17, 0.23), brow_thick=uniform(0.026, 0.042),
        brow_arch=uniform(0.01, 0.05), brow_len=uniform(0.28, 0.36), nose_y=uniform(0.1, 0.18),
        nose_w=uniform(0.07, 0.1), mouth_y=uniform(0.44, 0.52), mouth_w=uniform(0.25, 0.31),
        lip_up=uniform(0.03, 0.045), lip_lo=uniform(0.04, 0.06), lips=np.clip(lips, 0, 1).astype(np.float32),
        hair=np.clip(hair, 0, 1).astype(np.float32), hairline=uniform(-0.9, -0.7), hair_volume=uniform(0.0, 0.22),
        hair_length=uniform(0.0, 1.0), hair_part=uniform(-0.35, 0.35), bald=uniform(0, 1) < 0.05,
        glasses=uniform(0, 1) < 0.15, glasses_color=glasses_color.astype(np.float32),
        beard=np.where(beard_roll < 0.12, 0.45 + 4 * beard_roll, 0.0).astype(np.float32), resting_au=resting)

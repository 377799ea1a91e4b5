"""Per-image nuisance: head pose, framing, background, lighting, colour, blur and sensor noise."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True)
class Nuisance:
    """One row per image. Angles in degrees, shifts in image half-widths, blur and noise in pixels / 255."""

    roll: np.ndarray         # in-plane rotation
    yaw: np.ndarray          # -1..1, turns the features sideways inside the face outline
    scale: np.ndarray
    shift: np.ndarray        # (N, 2)
    gaze: np.ndarray         # (N, 2) iris offset in eye half-sizes
    background: np.ndarray   # (N, 3)
    light: np.ndarray        # (N, 2) linear brightness gradient across the image
    gain: np.ndarray         # overall brightness
    tint: np.ndarray         # (N, 3) colour cast
    gray: np.ndarray         # bool: a grey-scale photograph
    blur: np.ndarray         # Gaussian sigma in pixels of a 48-pixel image
    noise: np.ndarray        # Gaussian noise sigma in 0..255 units
    noise_seed: np.ndarray   # uint64, seeds the noise of this image alone

    def take(self, rows: np.ndarray) -> "Nuisance":
        return Nuisance(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})


def sample_nuisance(rng: np.random.Generator, n: int) -> Nuisance:
    """Draw the nuisance of n images."""
    def f32(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, np.float32)

    light_angle = rng.uniform(0, 2 * np.pi, n)
    light_strength = rng.uniform(0.0, 0.45, n)
    return Nuisance(
        roll=f32(np.clip(rng.normal(0, 7, n), -15, 15)),
        yaw=f32(np.clip(rng.normal(0, 0.35, n), -0.8, 0.8)),
        scale=f32(rng.uniform(0.88, 1.12, n)),
        shift=f32(rng.uniform(-0.08, 0.08, (n, 2))),
        gaze=f32(np.clip(rng.normal(0, 0.25, (n, 2)), -0.5, 0.5)),
        background=f32(rng.uniform(0.1, 0.9, (n, 1)) * rng.uniform(0.7, 1.0, (n, 3))),
        light=f32(light_strength[:, None] * np.stack([np.cos(light_angle), np.sin(light_angle)], 1)),
        gain=f32(rng.uniform(0.7, 1.15, n)),
        tint=f32(rng.uniform(0.9, 1.1, (n, 3))),
        gray=rng.random(n) < 0.06,
        blur=f32(0.8 * rng.random(n) ** 2),
        noise=f32(rng.uniform(1.0, 7.0, n)),
        noise_seed=rng.integers(0, 2**63, n, dtype=np.uint64),
    )

"""Signed-distance shapes on a batch of pixel grids, turned into anti-aliased coverage.

Distances are in face units, negative inside. Arrays are (B, H, W); per-image parameters are (B, 1, 1).
"""
from __future__ import annotations

import numpy as np


def coverage(d: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Fraction of a pixel (size px) covered by the shape: a one-pixel linear ramp across the edge."""
    return np.clip(0.5 - d / px, 0.0, 1.0)


def ellipse(x: np.ndarray, y: np.ndarray, cx, cy, rx, ry) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipse (exact on the axes, good near the edge)."""
    u = (x - cx) / rx
    v = (y - cy) / ry
    k0 = np.sqrt(u * u + v * v)
    k1 = np.sqrt(u * u / (rx * rx) + v * v / (ry * ry))
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def between(y: np.ndarray, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    """Vertical signed distance to the region top < y < bottom (y grows downwards)."""
    return np.maximum(top - y, y - bottom)


def span(x: np.ndarray, left, right) -> np.ndarray:
    """Signed distance to the slab left < x < right."""
    return np.abs(x - 0.5 * (left + right)) - 0.5 * (right - left)


def stroke(y: np.ndarray, curve: np.ndarray, half_thickness) -> np.ndarray:
    """Signed distance to a band of the given half thickness around y = curve(x) (vertical distance)."""
    return np.abs(y - curve) - half_thickness


def paint(canvas: np.ndarray, alpha: np.ndarray, color: np.ndarray) -> None:
    """Alpha-blend colour ((3,) or per image (B, 1, 1, 3)) over the channels-first (3, B, H, W) canvas."""
    rgb = np.asarray(color, np.float32)
    rgb = np.moveaxis(rgb.reshape((1,) * (4 - rgb.ndim) + rgb.shape), -1, 0)
    blend = rgb - canvas
    blend *= alpha
    canvas += blend

"""Render batches of faces: pose the pixel grid, draw the face, then light, blur and add noise.

Every image depends only on its own row of inputs, so results do not depend on how the batch is chunked.
"""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from datasets.synthface.face_parts import FaceContext, col, draw_face
from datasets.synthface.identities import IdentityTraits
from datasets.synthface.nuisance import Nuisance

CHUNK = 64
_BLUR_RADIUS = 3
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def render_faces(au: np.ndarray, traits: IdentityTraits, nuisance: Nuisance, image_size: int = 48,
                 progress: str | None = None) -> np.ndarray:
    """uint8 (N, S, S, 3) faces from AU intensities (N, n_AU), per-image traits and nuisance.

    The person's resting AU offsets are added to ``au`` before drawing. ``progress`` labels a tqdm bar.
    """
    n = len(au)
    out = np.empty((n, image_size, image_size, 3), np.uint8)
    starts = range(0, n, CHUNK)
    for start in tqdm(starts, desc=progress, unit="chunk", disable=progress is None or n <= CHUNK):
        rows = np.arange(start, min(start + CHUNK, n))
        out[rows] = _render_chunk(au[rows], traits.take(rows), nuisance.take(rows), image_size)
    return out


def _render_chunk(au: np.ndarray, traits: IdentityTraits, nu: Nuisance, size: int) -> np.ndarray:
    grid = ((np.arange(size, dtype=np.float32) + 0.5) / size * 2.0 - 1.0)
    u, v = grid[None, None, :], grid[None, :, None]
    angle = col(np.deg2rad(nu.roll))
    cos, sin, scale = np.cos(angle), np.sin(angle), col(nu.scale)
    du, dv = u - col(nu.shift[:, 0]), v - col(nu.shift[:, 1])
    x = (cos * du + sin * dv) / scale
    y = (-sin * du + cos * dv) / scale
    final_au = np.clip(au + traits.resting_au, 0.0, 1.0)
    context = FaceContext(x=x, y=y, px=2.0 / (size * scale), au=final_au, traits=traits, yaw=nu.yaw,
                          gaze=nu.gaze)

    background = col(nu.background) * (1.1 - 0.25 * (v[..., None] + 1.0) / 2.0)
    canvas = np.ascontiguousarray(np.moveaxis(np.broadcast_to(background, (len(au), size, size, 3)), -1, 0))
    draw_face(canvas, context)

    light = (1.0 + col(nu.light[:, 0]) * u + col(nu.light[:, 1]) * v) * col(nu.gain)
    canvas *= light
    canvas *= nu.tint.T[:, :, None, None]
    gray = np.tensordot(_LUMA, canvas, 1)
    canvas[:, nu.gray] = gray[nu.gray]
    canvas = _blur(canvas, nu.blur * size / 48.0)
    canvas *= 255.0
    for i, seed in enumerate(nu.noise_seed):
        noise = np.random.default_rng(int(seed)).standard_normal((size, size, 3), np.float32)
        canvas[:, i] += nu.noise[i] * np.moveaxis(noise, -1, 0)
    return np.moveaxis(np.clip(np.rint(canvas), 0, 255).astype(np.uint8), 0, -1)


def _blur(images: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Separable Gaussian blur of a (3, B, H, W) batch, one sigma (in pixels) per image; edges replicated."""
    offsets = np.arange(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=np.float32)
    weights = np.exp(-0.5 * (offsets[None, :] / np.maximum(sigma, 1e-3)[:, None]) ** 2)
    weights /= weights.sum(1, keepdims=True)
    size = images.shape[2]
    for axis in (2, 3):
        pad = [(0, 0)] * 4
        pad[axis] = (_BLUR_RADIUS, _BLUR_RADIUS)
        padded = np.pad(images, pad, mode="edge")
        blurred = np.zeros_like(images)
        for k in range(len(offsets)):
            window = padded[:, :, k:k + size] if axis == 2 else padded[:, :, :, k:k + size]
            blurred += col(weights[:, k]) * window
        images = blurred
    return images

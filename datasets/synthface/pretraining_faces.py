"""Expression-blind faces for pretraining a backbone: random AUs, a person pool disjoint from the benchmark."""
from __future__ import annotations

import numpy as np

from datasets.synthface.action_units import AU_CODES
from datasets.synthface.identities import PRETRAIN_ID_OFFSET, sample_identities
from datasets.synthface.jpeg import decode_jpeg, encode_jpeg
from datasets.synthface.nuisance import sample_nuisance
from datasets.synthface.renderer import render_faces

PRETRAIN_IDENTITIES = 2000
JPEG_QUALITY = 95
_AU_ACTIVE_PROBABILITY = 0.3


def render_random_faces(n: int, *, seed: int, image_size: int = 48,
                        n_identities: int = PRETRAIN_IDENTITIES) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (n, S, S, 3), int64 identity ids (n,)) with no expression label implied.

    Each AU is active with probability 0.3 at a uniform intensity, independently of every class prototype.
    Identities are ids PRETRAIN_ID_OFFSET + 0..n_identities-1, never a benchmark person; pose, lighting, blur
    and noise follow the benchmark's nuisance distribution; images are JPEG round-tripped like the benchmark's.
    """
    if n < 0 or n_identities < 1:
        raise ValueError(f"need n >= 0 and n_identities >= 1, got n={n}, n_identities={n_identities}")
    rng = np.random.default_rng([0x9E7, seed])
    pool = PRETRAIN_ID_OFFSET + np.arange(n_identities)
    rows = rng.integers(0, n_identities, n)
    used, inverse = np.unique(rows, return_inverse=True)
    traits = sample_identities(pool[used], seed).take(inverse)
    active = rng.random((n, len(AU_CODES))) < _AU_ACTIVE_PROBABILITY
    au = (active * rng.random((n, len(AU_CODES)))).astype(np.float32)
    images = render_faces(au, traits, sample_nuisance(rng, n), image_size, progress="pretraining faces")
    if n:
        images = decode_jpeg(encode_jpeg(images, JPEG_QUALITY))
    return images, traits.ids


FACE_POOL_SEED = 2  # other faces than the backbones' pretraining (seeds 0 and 1)


def face_pool(n: int, *, image_size: int) -> np.ndarray:
    """``n`` expression-blind faces (``render_random_faces`` with its own seed) for methods that learn from a large
    unlabelled face pool, e.g. Face2Exp's face-recognition data."""
    return render_random_faces(n, seed=FACE_POOL_SEED, image_size=image_size)[0]

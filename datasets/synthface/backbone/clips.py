"""Expression-blind "video clips" for clip-contrast pretraining, rendered with the SynthFACE generator.

A clip is one pretraining person (never a benchmark person) under one pose, framing, lighting and camera,
making random facial movements: every AU is active with probability 0.3 at a uniform intensity in every
frame, independently of any expression class prototype, like ``render_random_faces``.
"""
from __future__ import annotations

import numpy as np

from datasets.synthface.action_units import AU_CODES
from datasets.synthface.identities import PRETRAIN_ID_OFFSET, sample_identities
from datasets.synthface.jpeg import decode_jpeg, encode_jpeg
from datasets.synthface.nuisance import sample_nuisance
from datasets.synthface.pretraining_faces import JPEG_QUALITY
from datasets.synthface.renderer import render_faces

AU_ACTIVE_PROBABILITY = 0.3


def render_face_clips(n_clips: int, clip_length: int, *, seed: int, image_size: int = 48,
                      n_identities: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 frames (n_clips * clip_length, S, S, 3), int64 clip ids): clip k is rows k*L .. k*L+L-1.

    Persons are drawn from ids PRETRAIN_ID_OFFSET + 0..n_identities-1; frames are JPEG round-tripped like the
    benchmark's images.
    """
    if n_clips < 1 or clip_length < 1 or n_identities < 1:
        raise ValueError(f"need positive n_clips, clip_length and n_identities, got {n_clips}, {clip_length}, "
                         f"{n_identities}")
    rng = np.random.default_rng([0xC11B, seed])
    persons = PRETRAIN_ID_OFFSET + rng.integers(0, n_identities, n_clips)
    used, inverse = np.unique(persons, return_inverse=True)
    clip_of_frame = np.repeat(np.arange(n_clips), clip_length)
    traits = sample_identities(used, seed).take(inverse[clip_of_frame])
    nuisance = sample_nuisance(rng, n_clips).take(clip_of_frame)
    n = n_clips * clip_length
    au = ((rng.random((n, len(AU_CODES))) < AU_ACTIVE_PROBABILITY) * rng.random((n, len(AU_CODES))))
    frames = render_faces(au.astype(np.float32), traits, nuisance, image_size, progress="pretraining clips")
    return decode_jpeg(encode_jpeg(frames, JPEG_QUALITY)), clip_of_frame.astype(np.int64)

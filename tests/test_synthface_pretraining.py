"""Expression-blind pretraining faces: shapes, determinism, a person pool disjoint from the benchmark's."""
from __future__ import annotations

import numpy as np

from datasets.synthface.generate import SynthConfig, generate_subset
from datasets.synthface.identities import PRETRAIN_ID_OFFSET, sample_identities
from datasets.synthface.pretraining_faces import render_random_faces


def test_shapes_determinism_and_seed():
    images, ids = render_random_faces(12, seed=5, image_size=32, n_identities=4)
    again, again_ids = render_random_faces(12, seed=5, image_size=32, n_identities=4)
    other, _ = render_random_faces(12, seed=6, image_size=32, n_identities=4)
    assert images.shape == (12, 32, 32, 3) and images.dtype == np.uint8 and ids.shape == (12,)
    assert np.array_equal(images, again) and np.array_equal(ids, again_ids)
    assert not np.array_equal(images, other)
    assert set(ids.tolist()) <= set(range(PRETRAIN_ID_OFFSET, PRETRAIN_ID_OFFSET + 4))


def test_pretraining_people_are_not_benchmark_people():
    config = SynthConfig(image_size=24, n_identities=6, basic_train=14, basic_test=0, min_train_per_class=2)
    benchmark_ids = set(generate_subset("basic", config, seed=0, progress=False).identities.tolist())
    _, pretraining_ids = render_random_faces(20, seed=0, image_size=24, n_identities=50)
    assert benchmark_ids and not benchmark_ids & set(pretraining_ids.tolist())
    benchmark = sample_identities(np.array(sorted(benchmark_ids)), seed=0)
    pretraining = sample_identities(np.unique(pretraining_ids), seed=0)
    assert not set(benchmark.face_rx.tolist()) & set(pretraining.face_rx.tolist())

"""SynthFaceCNN backbone: shapes, deterministic pretraining, weight cache, bad weight files."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import benchmark.backbones.synthface_cnn as synthface_cnn
from benchmark.backbones.synthface_cnn import (FEATURE_DIM, INPUT_SIZE, LAST_STAGE, SynthFaceCNN, build_backbone,
                                               load_backbone, weight_file)
from benchmark.backbones.synthface_pretrain import PretrainConfig, augment, embed, nt_xent, train
from benchmark.errors import GFaceError, MissingFileError
from benchmark.registries import BACKBONES

TINY = PretrainConfig(objective="classification+simclr", n_images=64, n_identities=4, epochs=1, batch_size=32)


def stand_in_faces(n: int, seed: int, n_identities: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Identities, each a fixed random pattern plus per-image noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, (n_identities, INPUT_SIZE, INPUT_SIZE, 3))
    identities = np.arange(n) % n_identities
    noise = rng.integers(-20, 21, (n, INPUT_SIZE, INPUT_SIZE, 3))
    return np.clip(prototypes[identities] + noise, 0, 255).astype(np.uint8), identities


def test_forward_shape_and_stage_names():
    model = SynthFaceCNN().eval()
    with torch.no_grad():
        out = model(torch.randn(5, 3, INPUT_SIZE, INPUT_SIZE))
    assert out.shape == (5, FEATURE_DIM) == (5, 256)
    names = [name for name, _ in model.named_parameters()]
    assert any(n.startswith(LAST_STAGE + ".") for n in names)
    assert not any(n.startswith("stage5") for n in names)


def test_augment_keeps_shape_and_range():
    x = torch.rand(6, 3, INPUT_SIZE, INPUT_SIZE)
    out = augment(x, torch.Generator().manual_seed(0), min_crop_area=0.5)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x)


def test_nt_xent_prefers_matching_views():
    z = torch.randn(8, 16)
    assert nt_xent(z, z, 0.2) < nt_xent(z, torch.randn(8, 16), 0.2)


@pytest.mark.parametrize("objective", ["classification", "simclr"])
def test_training_is_deterministic_for_a_seed(objective):
    images, ids = stand_in_faces(64, seed=1)
    config = replace(TINY, objective=objective)
    first, second = (train(SynthFaceCNN, images, ids, config) for _ in range(2))
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name
    other = train(SynthFaceCNN, images, ids, replace(config, seed=1))
    assert not torch.equal(other.model.stem[0].weight, first.model.stem[0].weight)
    assert (first.head is None) == (objective == "simclr")


def test_build_backbone_caches_and_reuses(tmp_path):
    calls = []

    def faces(config):
        calls.append(config)
        return stand_in_faces(config.n_images, config.seed, config.n_identities)

    backbone = build_backbone(tmp_path, config=TINY, faces=faces, generator_version="stand-in")
    path = weight_file(tmp_path, TINY, "stand-in")
    assert path.is_file() and calls == [TINY]
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    again = build_backbone(tmp_path, config=TINY, faces=faces, generator_version="stand-in")
    assert len(calls) == 1, "a cache hit must not retrain"
    assert again.weights_sha256 == backbone.weights_sha256
    assert again.feature_dim == FEATURE_DIM and again.input_size == INPUT_SIZE
    assert again.trainable_prefixes == (LAST_STAGE,) and not again.model.training
    pretraining_pixels = stand_in_faces(TINY.n_images, TINY.seed)[0].reshape(-1, 3) / 255.0
    assert np.allclose(backbone.mean, pretraining_pixels.mean(0), atol=1e-5)
    assert np.allclose(backbone.std, pretraining_pixels.std(0), atol=1e-5)
    images, _ = stand_in_faces(10, seed=2)
    features = embed(again.model, images, again.mean, again.std)
    assert features.shape == (10, FEATURE_DIM) and np.isfinite(features).all()


def test_cache_key_depends_on_generator_seed_and_config(tmp_path):
    base = weight_file(tmp_path, TINY, "v1")
    assert base.name.startswith("synthface-cnn-") and base.parent == tmp_path / "backbones"
    assert len({base, weight_file(tmp_path, TINY, "v2"), weight_file(tmp_path, replace(TINY, seed=3), "v1"),
                weight_file(tmp_path, replace(TINY, epochs=2), "v1")}) == 4


def test_missing_weight_file_is_a_clear_error(tmp_path):
    with pytest.raises(MissingFileError, match="synthface-cnn"):
        load_backbone(tmp_path / "absent.pt")


@pytest.mark.parametrize("content", [b"not a weight file", None])
def test_corrupt_weight_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:  # a loadable file with the wrong tensors
        torch.save({"stem.0.weight": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(GFaceError, match="Delete|delete"):
        load_backbone(path)


def test_registered_factory():
    assert BACKBONES.get("synthface-cnn") is synthface_cnn.synthface_cnn

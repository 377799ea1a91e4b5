"""SynthFaceCNN backbone: shapes, augmentations, losses, deterministic pretraining, weight cache, bad files."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import datasets.synthface.backbone.cnn as synthface_cnn
from datasets.synthface.backbone.augment import AUGMENTATIONS
from datasets.synthface.backbone.clips import render_face_clips
from datasets.synthface.backbone.cnn import (FEATURE_DIM, INPUT_SIZE, LAST_STAGE, NAME, SECOND_CONFIG, SECOND_NAME,
                                               SECOND_SHA256, SHIPPED, SHIPPED_SHA256, SynthFaceCNN, build_backbone,
                                               load_backbone, shipped_weights, weight_file)
from datasets.synthface.backbone.pretrain import DEFAULT_CONFIG, PretrainConfig, embed, grouped_order, nt_xent, train
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import BACKBONES

TINY = PretrainConfig(objective="clip-contrast", n_images=64, n_identities=4, clip_length=8, epochs=1,
                      batch_size=32, augmentation="mild")


def stand_in_faces(n: int, seed: int, n_identities: int = 4, size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Identities (or clips), each a fixed random pattern plus per-image noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, (n_identities, size, size, 3))
    identities = np.arange(n) % n_identities
    noise = rng.integers(-20, 21, (n, size, size, 3))
    return np.clip(prototypes[identities] + noise, 0, 255).astype(np.uint8), identities


def test_forward_shape_and_stage_names():
    model = SynthFaceCNN().eval()
    with torch.no_grad():
        out = model(torch.randn(5, 3, INPUT_SIZE, INPUT_SIZE))
    assert out.shape == (5, FEATURE_DIM) == (5, 256)
    names = [name for name, _ in model.named_parameters()]
    assert any(n.startswith(LAST_STAGE + ".") for n in names)
    assert not any(n.startswith("stage5") for n in names)


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_augment_keeps_shape_range_and_seed(name):
    x = torch.rand(6, 3, INPUT_SIZE, INPUT_SIZE)
    out = AUGMENTATIONS[name](x, torch.Generator().manual_seed(0), min_crop_area=0.5)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x)
    assert torch.equal(out, AUGMENTATIONS[name](x, torch.Generator().manual_seed(0), min_crop_area=0.5))


def test_nt_xent_prefers_matching_views():
    z = torch.randn(8, 16)
    assert nt_xent(z, z, 0.2) < nt_xent(z, torch.randn(8, 16), 0.2)


def test_nt_xent_with_groups_is_the_mean_of_per_group_losses():
    z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
    groups = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    separate = (nt_xent(z1[:4], z2[:4], 0.2) + nt_xent(z1[4:], z2[4:], 0.2)) / 2
    assert torch.isclose(nt_xent(z1, z2, 0.2, groups), separate)
    assert not torch.isclose(nt_xent(z1, z2, 0.2), separate)


def test_grouped_order_keeps_runs_of_one_label():
    labels = torch.tensor([0] * 9 + [1] * 4 + [2] * 8)
    order = grouped_order(labels, 4, torch.Generator().manual_seed(0))
    assert len(order) == 20 and len(set(order.tolist())) == 20
    runs = labels[order].view(-1, 4)
    assert (runs == runs[:, :1]).all()


def test_clips_share_person_and_photograph_but_not_frames():
    frames, clips = render_face_clips(2, 3, seed=0, image_size=24)
    assert frames.shape == (6, 24, 24, 3) and frames.dtype == np.uint8
    assert clips.tolist() == [0, 0, 0, 1, 1, 1]
    assert not np.array_equal(frames[0], frames[1])  # random facial movements differ between frames
    assert np.array_equal(frames, render_face_clips(2, 3, seed=0, image_size=24)[0])


@pytest.mark.parametrize("objective", ["classification", "simclr", "clip-contrast"])
def test_training_is_deterministic_for_a_seed(objective):
    images, ids = stand_in_faces(64, seed=1, size=16)  # small images keep this test fast
    config = replace(TINY, objective=objective, augmentation="strong")
    first, second = (train(SynthFaceCNN, images, ids, config) for _ in range(2))
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name
    other = train(SynthFaceCNN, images, ids, replace(config, seed=1))
    assert not torch.equal(other.model.stem[0].weight, first.model.stem[0].weight)
    assert (first.head is None) == (objective != "classification")


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
    with pytest.raises(GFaceError, match="[Dd]elete"):
        load_backbone(path)


def test_registered_factory():
    assert BACKBONES.get("synthface-cnn") is synthface_cnn.synthface_cnn


def test_oracle_confusion_and_most_confused():
    from benchmark.core.scorer import confusion_matrix
    from datasets.synthface.tools.oracle import most_confused

    truth = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    predicted = np.array([0, 1, 2, 1, 0, 2, 0, 0])
    confusion = confusion_matrix(truth, predicted, 3)
    assert confusion.tolist() == [[1, 1, 1], [1, 1, 0], [2, 0, 1]]
    # class 0 mixed with 2 three times (1 + 2), with 1 twice (1 + 1); never with itself
    assert most_confused(confusion, 0) == [(2, 3), (1, 2)]


@pytest.mark.parametrize("name", [NAME, SECOND_NAME])
def test_the_shipped_weights_are_those_of_the_current_configurations(tmp_path, name):
    """A fresh clone loads the committed files instead of pretraining; a changed generator, config or training
    code changes the key, and this test then asks for the file to be re-made."""
    config = {NAME: DEFAULT_CONFIG, SECOND_NAME: SECOND_CONFIG}[name]
    assert shipped_weights(config).is_file(), (
        f"no shipped weights named {shipped_weights(config).name}: run python -m "
        f"datasets.synthface.tools.pretrain_backbone --cache-dir DIR --backbone {name}, copy the file into "
        f"{shipped_weights(config).parent} and update the SHA-256 in cnn.py")
    backbone = BACKBONES.get(name)(tmp_path)
    assert backbone.weights_sha256 == SHIPPED[config] and backbone.name == name
    assert not (tmp_path / "backbones").exists()  # loaded in place, nothing pretrained
    assert SHIPPED_SHA256 != SECOND_SHA256  # two different networks


def test_damaged_shipped_weights_are_refused(tmp_path, monkeypatch):
    damaged = tmp_path / "weights"
    damaged.mkdir()
    original = shipped_weights().read_bytes()
    (damaged / shipped_weights().name).write_bytes(original[:-64] + bytes(64))
    monkeypatch.setattr(synthface_cnn, "SHIPPED_WEIGHTS", damaged)
    with pytest.raises(GFaceError, match="damaged|not a loadable"):
        build_backbone(tmp_path / "cache")


def _other_weights(path) -> None:
    """A valid SynthFaceCNN weight file with other values than the shipped one (a pretraining elsewhere)."""
    torch.manual_seed(123)
    synthface_cnn.save_weights(SynthFaceCNN(), np.zeros(3), np.ones(3), path)


def test_a_cached_file_never_shadows_the_shipped_weights(tmp_path):
    cached = weight_file(tmp_path, DEFAULT_CONFIG, synthface_cnn.GENERATOR_VERSION)
    _other_weights(cached)
    assert build_backbone(tmp_path).weights_sha256 == SHIPPED_SHA256


def test_without_the_shipped_file_a_cached_file_must_have_the_pinned_hash(tmp_path, monkeypatch):
    pinned_file = shipped_weights()
    monkeypatch.setattr(synthface_cnn, "SHIPPED_WEIGHTS", tmp_path / "absent")
    with pytest.raises(GFaceError, match="shipped weight file .* is missing; restore"):
        build_backbone(tmp_path)  # nothing is pretrained in its place
    cached = weight_file(tmp_path, DEFAULT_CONFIG, synthface_cnn.GENERATOR_VERSION)
    _other_weights(cached)
    with pytest.raises(GFaceError, match=f"cached weight file {cached} holds other weights than the pinned"):
        build_backbone(tmp_path)
    cached.write_bytes(pinned_file.read_bytes())
    assert build_backbone(tmp_path).weights_sha256 == SHIPPED_SHA256  # the pinned file, found in the cache


def test_the_package_data_ships_every_weight_file():
    """``pip install .`` must carry the pinned files, or an install pretrains other weights (other run ids)."""
    import fnmatch
    import tomllib

    from benchmark.core.paths import REPO_ROOT
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = synthface_cnn.SHIPPED_WEIGHTS.parent
    patterns = package_data[".".join(package.relative_to(REPO_ROOT).parts)]
    shipped = [p.relative_to(package).as_posix() for p in synthface_cnn.SHIPPED_WEIGHTS.glob("*") if p.is_file()]
    assert shipped and all(any(fnmatch.fnmatch(name, pattern) for pattern in patterns) for name in shipped)

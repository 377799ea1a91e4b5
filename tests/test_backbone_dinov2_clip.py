"""DINOv2 ViT-B/14 and CLIP ViT-B/16: each builds with random weights at a reduced size from a file in its
official layout, splits exactly into trunk and tail, uses its training preprocessing, loads only with the pinned
sha256 and ``weights_only``, and ``weights fetch`` stores it from a local file:// URL (never the network)."""
import dataclasses
import hashlib
import re

import pytest
import timm
import torch

from benchmark.backbones import clip_vit, dinov2
from benchmark.cli import main
from benchmark.core.errors import GFaceError
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WEIGHT_FILES

SMALL = dict(depth=2, embed_dim=32, num_heads=2)  # two blocks: a trunk block and the trainable last block


def _dinov2_file_state() -> dict:
    """A random ViT in the Hub file's layout: timm keys, position embeddings for the release's 518 px (37x37)."""
    return timm.create_model(dinov2.ARCHITECTURE, num_classes=0, **SMALL).state_dict()


def _clip_file_state() -> dict:
    """A random CLIP ViT in OpenAI's transformers layout, with a text tower and projections the loader must drop."""
    state = clip_vit.transformers_state(timm.create_model(clip_vit.ARCHITECTURE, num_classes=0, **SMALL))
    state.update({"text_model.embeddings.token_embedding.weight": torch.randn(10, 16),
                  "visual_projection.weight": torch.randn(8, 32), "text_projection.weight": torch.randn(8, 16),
                  "logit_scale": torch.tensor(4.6), "vision_model.embeddings.position_ids": torch.arange(197)[None]})
    return state


CASES = {  # name -> (module, weight-file state maker, builder, patch grid at 224 px, timm's pretrained tag)
    "vit_b14_dinov2": (dinov2, _dinov2_file_state, dinov2.build_dinov2, 16, "vit_base_patch14_dinov2.lvd142m"),
    "vit_b16_clip": (clip_vit, _clip_file_state, clip_vit.build_clip, 14, "vit_base_patch16_clip_224.openai"),
}


@pytest.fixture
def weight_file(tmp_path, monkeypatch):
    """``make(name)``: a random small weight file in the backbone's layout, its declaration pinned to its sha256
    and pointed at it; returns (declaration, file, saved state)."""
    def make(name):
        state = CASES[name][1]()
        path = tmp_path / f"{name}.bin"
        torch.save(state, path)
        declared = dataclasses.replace(WEIGHT_FILES.get(name), sha256=hashlib.sha256(path.read_bytes()).hexdigest())
        monkeypatch.setitem(WEIGHT_FILES._entries, name, declared)
        monkeypatch.setenv(declared.env, str(path))
        return declared, path, state
    return make


@pytest.mark.parametrize("name", CASES)
def test_small_backbone_loads_and_its_trunk_then_tail_is_the_forward_pass(name, weight_file, tmp_path):
    module, _, build, grid, _ = CASES[name]
    declared, path, _ = weight_file(name)
    backbone = build(declared, tmp_path, **SMALL)
    assert backbone.weights_sha256 == declared.sha256 and backbone.name == name
    assert backbone.feature_dim == 32 and backbone.trainable_prefixes == ("blocks.1.",)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        features = backbone.model(x)
        torch.testing.assert_close(backbone.tail(backbone.model, backbone.trunk(backbone.model, x)), features)
        assert features.shape == (2, 32)
        assert backbone.trunk(backbone.model, x).shape == (2, 1 + grid * grid, 32)
        assert backbone.feature_map(backbone.model, x).shape == (2, 32, grid, grid)
    assert not backbone.model.training


def test_dinov2_weights_land_unchanged_but_for_the_resampled_position_embeddings(weight_file, tmp_path):
    declared, _, saved = weight_file("vit_b14_dinov2")
    loaded = dinov2.build_dinov2(declared, tmp_path, **SMALL).model.state_dict()
    assert saved["pos_embed"].shape == (1, 1 + 37 * 37, 32) and loaded["pos_embed"].shape == (1, 1 + 16 * 16, 32)
    torch.testing.assert_close(loaded["pos_embed"][:, 0], saved["pos_embed"][:, 0])  # the CLS position
    for key, value in saved.items():
        if key != "pos_embed":
            assert torch.equal(loaded[key], value), key


def test_dinov2_position_resampling_follows_dinov2():
    released = torch.randn(1, 1 + 37 * 37, 8)
    resampled = dinov2.resample_position_embedding(released, 16)
    grid = released[:, 1:].reshape(1, 37, 37, 8).permute(0, 3, 1, 2)
    expected = torch.nn.functional.interpolate(grid, scale_factor=16.1 / 37, mode="bicubic", antialias=False)
    torch.testing.assert_close(resampled[:, 1:], expected.permute(0, 2, 3, 1).reshape(1, 256, 8))
    constant = torch.ones(1, 1 + 37 * 37, 4)
    torch.testing.assert_close(dinov2.resample_position_embedding(constant, 16), torch.ones(1, 257, 4))
    same = torch.randn(1, 257, 4)
    assert dinov2.resample_position_embedding(same, 16) is same


def test_clip_weights_convert_from_the_transformers_layout(weight_file, tmp_path):
    declared, _, saved = weight_file("vit_b16_clip")
    assert {"vision_model.pre_layrnorm.weight", "vision_model.post_layernorm.bias",
            "vision_model.embeddings.class_embedding", "vision_model.embeddings.patch_embedding.weight",
            "vision_model.encoder.layers.1.self_attn.q_proj.weight", "vision_model.encoder.layers.1.self_attn."
            "out_proj.bias", "vision_model.encoder.layers.0.layer_norm2.weight",
            "vision_model.encoder.layers.0.mlp.fc1.weight"} <= set(saved)  # the names of openai/clip-vit-base-patch16
    model = clip_vit.build_clip(declared, tmp_path, **SMALL).model
    loaded = model.state_dict()
    layer = "vision_model.encoder.layers.1.self_attn."
    torch.testing.assert_close(loaded["blocks.1.attn.qkv.weight"],
                               torch.cat([saved[layer + p + ".weight"] for p in ("q_proj", "k_proj", "v_proj")]))
    torch.testing.assert_close(loaded["norm_pre.weight"], saved["vision_model.pre_layrnorm.weight"])
    torch.testing.assert_close(loaded["cls_token"].flatten(), saved["vision_model.embeddings.class_embedding"])
    assert model.blocks[0].mlp.act.__class__.__name__ == "QuickGELU"  # the activation CLIP was trained with
    back = clip_vit.transformers_state(model)
    assert all(torch.equal(back[key], saved[key]) for key in back) and set(back) <= set(saved)


@pytest.mark.parametrize("name", CASES)
def test_preprocessing_is_the_one_each_model_was_trained_with(name, weight_file, tmp_path):
    _, _, build, grid, pretrained_tag = CASES[name]
    declared, _, _ = weight_file(name)
    backbone = build(declared, tmp_path, **SMALL)
    reference = timm.models.get_pretrained_cfg(pretrained_tag)  # timm's record of the original preprocessing
    assert backbone.mean == reference.mean and backbone.std == reference.std
    assert backbone.input_size == 224 and backbone.input_size // grid == (14 if name == "vit_b14_dinov2" else 16)
    assert backbone.crop_pct == {"vit_b14_dinov2": 0.875, "vit_b16_clip": 1.0}[name]  # resize 256 / 224, crop 224


@pytest.mark.parametrize("name", CASES)
def test_registered_sources_pin_a_full_sha256_of_an_https_file(name):
    declared = WEIGHT_FILES.get(name)
    assert re.fullmatch(r"[0-9a-f]{64}", declared.sha256)
    assert declared.url.startswith("https://huggingface.co/") and declared.url in declared.obtain_from
    assert BACKBONES.get(name).__doc__


@pytest.mark.parametrize("name", CASES)
def test_a_file_with_another_hash_is_refused(name, weight_file, tmp_path, monkeypatch):
    declared, path, _ = weight_file(name)
    monkeypatch.setitem(WEIGHT_FILES._entries, name, dataclasses.replace(declared, sha256="0" * 64))
    with pytest.raises(GFaceError, match=f"{'0' * 64} is pinned: it is not the official file"):
        BACKBONES.get(name)(tmp_path)


class Payload:
    """An arbitrary pickled object: weights_only loading must refuse it."""


@pytest.mark.parametrize("name", CASES)
def test_pickled_objects_are_not_unpickled(name, tmp_path, monkeypatch):
    path = tmp_path / "evil.bin"
    torch.save({"state_dict": Payload()}, path)
    monkeypatch.setenv(WEIGHT_FILES.get(name).env, str(path))
    with pytest.raises(GFaceError, match="not a loadable PyTorch weight file"):
        BACKBONES.get(name)(tmp_path)


@pytest.mark.parametrize("name", CASES)
def test_a_foreign_state_dict_with_the_pinned_hash_is_named(name, tmp_path, monkeypatch):
    path = tmp_path / "other.bin"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    declared = dataclasses.replace(WEIGHT_FILES.get(name), sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setitem(WEIGHT_FILES._entries, name, declared)
    monkeypatch.setenv(declared.env, str(path))
    with pytest.raises(GFaceError, match=f"backbone {name}: .* does not hold .* missing"):
        CASES[name][2](declared, tmp_path, **SMALL)


@pytest.mark.parametrize("name", CASES)
def test_weights_fetch_stores_the_file_from_a_local_url(name, weight_file, tmp_path, monkeypatch, capsys):
    declared, source, _ = weight_file(name)
    declared = dataclasses.replace(declared, url=source.as_uri())
    monkeypatch.setitem(WEIGHT_FILES._entries, name, declared)
    monkeypatch.delenv(declared.env)
    cache = tmp_path / "cache"
    assert main(["weights", "fetch", name, "--cache-dir", str(cache)]) == 0
    assert f"sha256 {declared.sha256} (matches the pinned {declared.sha256})" in capsys.readouterr().out
    stored = cache / "weights" / declared.file_name
    assert stored.read_bytes() == source.read_bytes()
    assert CASES[name][2](declared, cache, **SMALL).weights_sha256 == declared.sha256


def test_list_backbones_names_the_new_entries_and_their_sources(tmp_path, monkeypatch, capsys):
    for name in CASES:
        monkeypatch.delenv(WEIGHT_FILES.get(name).env, raising=False)
    assert main(["--list", "backbones", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in CASES:
        assert re.search(rf"^  {name}\s+missing", out, re.M)
        assert f"{name}: {tmp_path / 'weights' / WEIGHT_FILES.get(name).file_name}" in out
        assert f"weights fetch {name}" in out and WEIGHT_FILES.get(name).url in out

"""Opt-in weights: `weights fetch` downloads the declared URL (a local file:// URL here, never the network),
verifies the pinned sha256 and stores the file in the cache; missing weights name that command."""
import dataclasses
import hashlib

import pytest
import torch

from benchmark.cli import main
from benchmark.core.errors import MissingFileError
from benchmark.core.weights import WEIGHT_FILES


@pytest.fixture
def official(tmp_path, monkeypatch):
    """resnet18_imagenet's declaration pointed at a local file holding a (random) ResNet-18 state dict."""
    import torchvision
    source = tmp_path / "server" / "resnet18.pth"
    source.parent.mkdir()
    torch.save(torchvision.models.resnet18().state_dict(), source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    declared = dataclasses.replace(WEIGHT_FILES.get("resnet18_imagenet"), url=source.as_uri(), sha256=digest[:8])
    monkeypatch.setitem(WEIGHT_FILES._entries, "resnet18_imagenet", declared)
    monkeypatch.delenv(declared.env, raising=False)
    return declared, digest, tmp_path / "cache"


def test_fetch_verifies_and_stores_in_the_cache(official, capsys):
    declared, digest, cache = official
    assert main(["weights", "fetch", "resnet18_imagenet", "--cache-dir", str(cache)]) == 0
    stored = cache / "weights" / declared.file_name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    assert f"sha256 {digest} (matches the pinned {digest[:8]})" in capsys.readouterr().out
    from benchmark.backbones.resnet18 import resnet18_imagenet
    assert resnet18_imagenet(cache).weights_sha256 == digest
    assert main(["weights", "list", "--cache-dir", str(cache)]) == 0
    assert "resnet18_imagenet    present" in capsys.readouterr().out


def test_a_wrong_hash_keeps_nothing(official, monkeypatch, capsys):
    declared, _, cache = official
    monkeypatch.setitem(WEIGHT_FILES._entries, "resnet18_imagenet", dataclasses.replace(declared, sha256="00000000"))
    assert main(["weights", "fetch", "resnet18_imagenet", "--cache-dir", str(cache)]) == 2
    assert "00000000 is pinned: it is not the official file" in capsys.readouterr().err
    assert not list((cache / "weights").iterdir())


def test_unpinned_hash_is_reported(official, monkeypatch, capsys):
    declared, digest, cache = official
    monkeypatch.setitem(WEIGHT_FILES._entries, "resnet18_imagenet", dataclasses.replace(declared, sha256=None))
    assert main(["weights", "fetch", "resnet18_imagenet", "--cache-dir", str(cache)]) == 0
    assert f"sha256 {digest} (no hash is pinned for it" in capsys.readouterr().out


def test_missing_weights_name_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.delenv("GFACE_DINO_VITB16", raising=False)
    from benchmark.backbones.vit_dino import vit_b16_dino
    with pytest.raises(MissingFileError, match="run `python run_benchmark.py weights fetch vit_b16_dino`"):
        vit_b16_dino(tmp_path)


def test_weights_flag_points_a_backbone_at_a_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GFACE_DINO_VITB16", "")  # restored after the test
    weights = tmp_path / "dino.pth"
    weights.write_bytes(b"x")
    assert main(["--weights", f"vit_b16_dino={weights}", "--list", "backbones"]) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if "vit_b16_dino" in line][0].split()[1] == "present"
    assert main(["--weights", f"vit_b16_dino={tmp_path / 'absent.pth'}", "--list", "backbones"]) == 2
    assert "absent.pth is not a file" in capsys.readouterr().err

"""Weight files: a missing, corrupt or foreign file gives one clear message naming the file and its source."""
import pytest
import torch

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import BACKBONES


def test_missing_dino_weights_say_which_file_and_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("GFACE_DINO_VITB16", raising=False)
    with pytest.raises(MissingFileError) as err:
        BACKBONES.get("vit_b16_dino")(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "weights" / "dino_vitbase16_pretrain.pth") in message
    assert "facebookresearch/dino" in message and "GFACE_DINO_VITB16" in message


def test_corrupt_weight_file_is_explained(tmp_path, monkeypatch):
    path = tmp_path / "dino.pth"
    path.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("GFACE_DINO_VITB16", str(path))
    with pytest.raises(GFaceError, match="not a loadable PyTorch weight file"):
        BACKBONES.get("vit_b16_dino")(tmp_path)


def test_foreign_weights_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    monkeypatch.setenv("GFACE_DINO_VITB16", str(path))
    with pytest.raises(GFaceError, match="does not hold DINO ViT-B/16 weights"):
        BACKBONES.get("vit_b16_dino")(tmp_path)


class Payload:
    """An arbitrary pickled object: weights_only loading must refuse it."""


def test_pickled_objects_are_not_unpickled(tmp_path, monkeypatch):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": Payload()}, path)
    monkeypatch.setenv("GFACE_DINO_VITB16", str(path))
    with pytest.raises(GFaceError, match="not a loadable PyTorch weight file"):
        BACKBONES.get("vit_b16_dino")(tmp_path)

"""ResNet-18 backbones: both checkpoint formats load, features and partial fine-tuning are right, bad files
are explained."""
import copy
import dataclasses

import pytest
import torch
import torchvision

from benchmark.backbones.resnet18 import IMAGENET, MSCELEB, ResNet18Features
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.registry import BACKBONES
from benchmark.core.weights import WEIGHT_FILES
from benchmark.training.backbone_training import trainable_copy
from benchmark.training.finetune import train_mode


@pytest.fixture(autouse=True)
def _no_weight_env(monkeypatch):
    for source in (MSCELEB, IMAGENET):
        monkeypatch.delenv(source.env, raising=False)


@pytest.fixture(scope="module")
def torchvision_net():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def images():
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def msceleb_checkpoint(net: torch.nn.Module) -> dict:
    """The FER releases' format: weights under 'state_dict', DataParallel 'module.' prefixes, a face-id fc."""
    state = {f"module.{k}": v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    state.update({"module.fc.weight": torch.zeros(7, 512), "module.fc.bias": torch.zeros(7)})
    return {"state_dict": state, "epoch": 30}


def pooled_reference(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """torchvision's own forward with the classifier replaced by the identity."""
    headless = copy.deepcopy(net)
    headless.fc = torch.nn.Identity()
    with torch.no_grad():
        return headless(x)


def test_msceleb_checkpoint_loads_from_env_path(tmp_path, monkeypatch, torchvision_net, images):
    path = tmp_path / "faces.pth"
    torch.save(msceleb_checkpoint(torchvision_net), path)
    monkeypatch.setenv(MSCELEB.env, str(path))
    backbone = BACKBONES.get("resnet18_msceleb")(tmp_path / "cache")
    assert (backbone.input_size, backbone.feature_dim, backbone.crop_pct) == (224, 512, 1.0)
    assert backbone.trainable_prefixes == ("layer4.",) and not backbone.model.training
    with torch.no_grad():
        features = backbone.model(images)
        assert backbone.model.feature_map(images).shape == (2, 512, 2, 2)
    assert features.shape == (2, 512)
    torch.testing.assert_close(features, pooled_reference(torchvision_net, images))


def test_torchvision_state_dict_loads_from_default_path(tmp_path, monkeypatch, torchvision_net, images):
    unpinned = dataclasses.replace(IMAGENET, sha256=None)  # random values: not the official file
    monkeypatch.setitem(WEIGHT_FILES._entries, IMAGENET.name, unpinned)
    (tmp_path / "weights").mkdir()
    torch.save(torchvision_net.state_dict(), tmp_path / "weights" / "resnet18-f37072fd.pth")
    backbone = BACKBONES.get("resnet18_imagenet")(tmp_path)
    assert len(backbone.weights_sha256) == 64 and backbone.name == "resnet18_imagenet"
    with torch.no_grad():
        torch.testing.assert_close(backbone.model(images), pooled_reference(torchvision_net, images))


@pytest.mark.parametrize("source", [MSCELEB, IMAGENET], ids=lambda s: s.name)
def test_missing_weights_say_which_file_where_and_how_to_get_it(tmp_path, source):
    with pytest.raises(MissingFileError) as err:
        BACKBONES.get(source.name)(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "weights" / source.file_name) in message
    assert source.env in message and source.obtain_from in message


def test_wrong_checkpoint_lists_missing_unexpected_and_misshapen_keys(tmp_path, monkeypatch, torchvision_net):
    state = dict(torchvision_net.state_dict())
    del state["layer4.1.bn2.weight"]
    state["head.weight"] = torch.zeros(3)
    state["conv1.weight"] = torch.zeros(64, 3, 3, 3)
    path = tmp_path / "other.pth"
    torch.save(state, path)
    monkeypatch.setenv(MSCELEB.env, str(path))  # no hash is pinned for it: the keys are checked
    with pytest.raises(GFaceError) as err:
        BACKBONES.get("resnet18_msceleb")(tmp_path)
    message = str(err.value)
    assert "1 missing (layer4.1.bn2.weight)" in message and "1 unexpected (head.weight)" in message
    assert "1 misshapen (conv1.weight (64, 3, 3, 3) != (64, 3, 7, 7))" in message and str(path) in message


def test_only_layer4_trains_and_frozen_layers_build_no_graph(tmp_path, monkeypatch, torchvision_net, images):
    path = tmp_path / "faces.pth"
    torch.save(msceleb_checkpoint(torchvision_net), path)
    monkeypatch.setenv(MSCELEB.env, str(path))
    model = trainable_copy(BACKBONES.get("resnet18_msceleb")(tmp_path))
    assert isinstance(model, ResNet18Features)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("layer4.") for name in trainable)
    assert trainable == {name for name, _ in model.layer4.named_parameters(prefix="layer4")}
    train_mode(model)
    assert model.layer4[1].bn2.training and not model.layer3[1].bn2.training and not model.bn1.training
    layer3_out = []
    model.layer3.register_forward_hook(lambda module, inputs, output: layer3_out.append(output))
    model(images).sum().backward()
    assert not layer3_out[0].requires_grad
    assert all((p.grad is not None) == p.requires_grad for p in model.parameters())


def test_a_file_with_another_hash_than_the_pin_is_refused_whatever_its_origin(tmp_path, monkeypatch, torchvision_net):
    path = tmp_path / "mine.pth"
    torch.save(torchvision_net.state_dict(), path)  # random values, not torchvision's official file
    monkeypatch.setenv(IMAGENET.env, str(path))  # what --weights resnet18_imagenet=PATH does
    with pytest.raises(GFaceError, match=f"{path} has sha256 .* but f37072fd is pinned: it is not the official"):
        BACKBONES.get("resnet18_imagenet")(tmp_path)
    monkeypatch.delenv(IMAGENET.env)
    (tmp_path / "weights").mkdir()
    path.rename(tmp_path / "weights" / IMAGENET.file_name)  # the same file in the cache
    with pytest.raises(GFaceError, match="weights fetch resnet18_imagenet"):
        BACKBONES.get("resnet18_imagenet")(tmp_path)

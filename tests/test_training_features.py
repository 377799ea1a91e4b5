"""Features re-extracted during training from cached trunk outputs are those of the whole network, bit for bit."""
import numpy as np
import torch

from benchmark.training import backbone_training
from benchmark.training.backbone_training import features_during_training, features_of, training_input
from tests.test_view_bank import _toy_task


def _moved_tail(network: torch.nn.Module, trainable_prefixes: tuple[str, ...]) -> None:
    """Change the trainable block's weights and batch-norm statistics, as an epoch of training on the bank would."""
    with torch.no_grad():
        for param in network.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn_like(param))
        for name, buffer in network.named_buffers():
            if name.startswith(trainable_prefixes) and "running_mean" in name:
                buffer.add_(0.1)


def test_cached_trunk_features_equal_the_whole_networks_after_the_tail_moves(tmp_path, monkeypatch):
    monkeypatch.setattr(backbone_training, "FEATURE_BATCH", 7)  # several batches, the last one short
    task, _, _ = _toy_task(tmp_path, seed=1)
    inputs = training_input(task, 1.0, view_bank=2)
    rows = task.unlabelled_idx
    features = features_during_training(task, inputs, rows)
    for _ in range(2):
        np.testing.assert_array_equal(features(), features_of(task, inputs.network, rows))
        before = features()
        _moved_tail(inputs.network, task.backbone.trainable_prefixes)
        assert not np.array_equal(features(), before)  # the tail runs at every call


def test_without_a_view_bank_or_over_the_memory_limit_the_whole_network_runs(tmp_path, monkeypatch):
    task, _, _ = _toy_task(tmp_path, seed=1)
    rows = task.unlabelled_idx
    calls = []
    monkeypatch.setattr(backbone_training, "features_of", lambda *args: calls.append(args) or np.zeros((1, 1)))
    features_during_training(task, training_input(task, 1.0, view_bank=0), rows)()
    monkeypatch.setattr(backbone_training, "TRUNK_CACHE_BYTES", 1)
    features_during_training(task, training_input(task, 1.0, view_bank=2), rows)()
    assert len(calls) == 2

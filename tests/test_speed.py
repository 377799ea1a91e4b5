"""The speed scripts at toy sizes: they run end to end, print their tables and JSON, and check their inputs."""
import json

import numpy as np
import pytest

from benchmark.core.errors import GFaceError
from benchmark.speed import epoch_features, learner_speed, rafdb_scale, ss_kmeans, training_throughput


def test_ss_kmeans_times_ours_and_matches_the_public_entry_point(tmp_path, capsys):
    out = tmp_path / "kmeans.json"
    assert ss_kmeans.main(["--n", "600", "--dim", "16", "--k", "6", "--known", "3", "--n-init", "2", "--iters", "3",
                           "--json", str(out)]) == 0
    assert "| this suite (BLAS on CPU, faiss on GPU)" in capsys.readouterr().out
    row = json.loads(out.read_text())["rows"][0]
    assert row["restarts timed"] == 2 and row["s / iteration"] > 0
    from benchmark.clustering import KMeansConfig, semi_supervised_kmeans
    xu, xl, yl = ss_kmeans.synthetic_features(600, 16, 6, 3, 0)
    public = semi_supervised_kmeans(xu, KMeansConfig(6, n_init=2, max_iter=3, tol=0.0, seed=0), xl, yl)
    assert row["best inertia"] == pytest.approx(public.inertia, rel=1e-6)  # the timed path is the real one


def test_ss_kmeans_names_a_release_dir_without_the_release(tmp_path):
    with pytest.raises(GFaceError, match="faster_mix_k_means_pytorch.py not found"):
        ss_kmeans.main(["--n", "200", "--dim", "8", "--k", "4", "--known", "2", "--n-init", "1",
                        "--release-dir", str(tmp_path)])


def test_rafdb_scale_extracts_caches_and_clusters(tmp_path, capsys):
    out = tmp_path / "rafdb.json"
    assert rafdb_scale.main(["--n-train", "60", "--n-test", "12", "--image-size", "8", "--protocol", "toy-basic",
                             "--set", "ss-kmeans.n_init=2", "--set", "kmeans.n_init=2", "--device", "cpu",
                             "--json", str(out)]) == 0
    stages = [row["stage"] for row in json.loads(out.read_text())["rows"]]
    assert stages == ["extract + cache features (toy-pixels)", "re-open cached features", "kmeans run",
                      "ss-kmeans run"]
    assert "synthetic images (72 = 60 train + 12 test" in capsys.readouterr().out


def test_training_throughput_runs_both_pipelines_for_a_learning_method(tmp_path):
    out = tmp_path / "train.json"
    assert training_throughput.main([
        "--methods", "simgcd", "--steps", "2", "--batch-size", "8", "--image-size", "8", "--protocol", "toy-cnn",
        "--profile", "cpu", "--set", "simgcd.proj_hidden_dim=16", "--workers", "0", "--device", "cpu",
        "--view-bank", "2", "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    speeds = [row["uint8 cache + batch views (images/s)"], row["JPEG + PIL DataLoader (images/s)"],
              row["view bank 2 (images/s)"]]
    assert row["method"] == "simgcd" and all(np.isfinite(speeds)) and min(speeds) > 0
    with pytest.raises(GFaceError, match="does not train through"):
        training_throughput.main(["--methods", "kmeans", "--steps", "1", "--batch-size", "4", "--image-size", "8",
                                  "--protocol", "toy-cnn", "--device", "cpu"])


def test_learner_speed_times_three_pipelines_and_the_step_parts(tmp_path, capsys):
    from tests.toy_plugins import register_toys
    register_toys()
    out = tmp_path / "learners.json"
    assert learner_speed.main(["--methods", "simgcd", "--protocol", "toy-cnn", "--profile", "smoke", "--view-bank", "2",
                               "--batch-size", "8", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu",
                               "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert min(row["before (images/s)"], row["fresh views (images/s)"], row["view bank 2 (images/s)"]) > 0
    parts = json.loads((tmp_path / "learners-step-parts.json").read_text())["rows"][0]
    assert parts["frozen trunk (no graph)"] > 0 and parts["whole step (view bank)"] > 0
    assert "One training step of 8 images" in capsys.readouterr().out


def test_epoch_features_times_both_ways_and_finds_them_bit_identical(tmp_path):
    from tests.toy_plugins import register_toys
    register_toys()
    out = tmp_path / "epoch.json"
    assert epoch_features.main(["--protocol", "toy-cnn", "--view-bank", "2", "--repeats", "1", "--cache-dir",
                                str(tmp_path / "cache"), "--device", "cpu", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["bit-identical"] for row in rows] == [True, True]
    assert all(row["whole network (ms)"] >= 0 and row["tail on cached trunk (ms)"] >= 0 for row in rows)


@pytest.mark.parametrize("name", ["resnet18_msceleb", "resnet18_imagenet"])
def test_random_weights_load_through_the_backbones_own_file_format(tmp_path, monkeypatch, name):
    import torch

    from benchmark.plugin_discovery import load_plugins
    from benchmark.speed.synthetic import RANDOM_WEIGHTS, load_backbone
    load_plugins()
    from benchmark.backbones.resnet18 import IMAGENET, MSCELEB
    for source in (IMAGENET, MSCELEB):
        monkeypatch.setenv(source.env, "")  # restored after the test, whatever load_backbone sets
    backbone = load_backbone(name, tmp_path, random_weights=True)
    assert backbone.name == name and name in RANDOM_WEIGHTS
    with torch.no_grad():
        assert backbone.model(torch.zeros(1, 3, 64, 64)).shape == (1, backbone.feature_dim)


def test_random_weights_refuse_a_backbone_without_a_random_format(tmp_path):
    from benchmark.speed.synthetic import load_backbone
    with pytest.raises(GFaceError, match="--random-weights is for"):
        load_backbone("synthface-cnn", tmp_path, random_weights=True)


@pytest.mark.parametrize("name", ["vit_b14_dinov2", "vit_b16_clip"])
def test_random_vit_weights_load_through_the_pinned_loader_without_the_pin(tmp_path, monkeypatch, name):
    import torch

    from benchmark.core.weights import WEIGHT_FILES
    from benchmark.plugin_discovery import load_plugins
    from benchmark.speed.synthetic import load_backbone
    load_plugins()
    monkeypatch.setenv(WEIGHT_FILES.get(name).env, "")  # restored after the test, whatever load_backbone sets
    backbone = load_backbone(name, tmp_path, random_weights=True)
    assert backbone.name == name and backbone.feature_dim == 768 and WEIGHT_FILES.get(name).sha256
    with torch.no_grad():
        assert backbone.model(torch.zeros(1, 3, 224, 224)).shape == (1, 768)

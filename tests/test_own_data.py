"""Own data without editing the suite: a protocol file outside the checkout declares an imagefolder or CSV-list
dataset; a plugin folder (--plugins) adds the backbone; kmeans and ss-kmeans run end to end through the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from benchmark.core.paths import REPO_ROOT

CLASSES = ("alpha", "beta", "gamma", "delta")
PLUGIN = '''
import torch
from benchmark.core.backbone import Backbone
from benchmark.core.registry import BACKBONES


@BACKBONES.register("tiny-pixels")
def tiny_pixels(cache_dir):
    """8x8 pixels as features."""
    return Backbone("tiny-pixels", torch.nn.Flatten(), input_size=8, mean=(0.5,) * 3, std=(0.25,) * 3,
                    feature_dim=192, weights_sha256="none")
'''
PROTOCOL = """id: {id}
version: 1
dataset: {dataset}
dataset_spec:
{spec}
backbone: tiny-pixels
known: [alpha, beta]
new: [gamma, delta]
labelled_fraction: 0.5
split_seeds: [0]
k_given: true
eval_sets: [unlabelled_train, test]
model_selection: last_epoch
scorer: hungarian_v2
profile: cpu
"""


def _write_images(root, layout):
    """12 train and 4 test images per class, one colour per class; returns (relative path, class, split) rows."""
    rng = np.random.default_rng(0)
    rows = []
    for c, name in enumerate(CLASSES):
        colour = np.array([60 + 50 * c, 200 - 40 * c, 90 + 30 * (c % 2)])
        for i in range(16):
            split = "train" if i < 12 else "test"
            relative = layout.format(split=split, label=name, i=i)
            pixels = np.clip(colour + rng.normal(0, 10, (16, 16, 3)), 0, 255).astype(np.uint8)
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / relative)
            rows.append((relative, name, split))
    return rows


def _sweep(tmp_path, protocol_file, plugins):
    return subprocess.run([sys.executable, "run_benchmark.py", "--methods", "kmeans", "ss-kmeans", "--protocols",
                           str(protocol_file), "--plugins", str(plugins), "--runs-dir", str(tmp_path / "runs"),
                           "--cache-dir", str(tmp_path / "cache")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("kind", ["imagefolder", "csv"])
def test_declared_dataset_runs_kmeans_and_ss_kmeans(tmp_path, kind):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "tiny_backbone.py").write_text(PLUGIN)
    mine = tmp_path / "mine"
    mine.mkdir()
    if kind == "imagefolder":
        _write_images(mine / "faces", "{split}/{label}/{i:02d}.png")
        spec = "  type: imagefolder\n  root: faces\n  image_size: 16"
    else:
        rows = _write_images(mine / "pictures", "{label}-{i:02d}.jpg")
        (mine / "list.csv").write_text("path,label,split\n" + "".join(f"pictures/{p},{c},{s}\n" for p, c, s in rows))
        spec = "  type: csv\n  file: list.csv\n  image_size: 16"
    protocol = mine / f"my-{kind}.yaml"
    protocol.write_text(PROTOCOL.format(id=f"my-{kind}", dataset=f"my-{kind}-faces", spec=spec))
    proc = _sweep(tmp_path, protocol, plugins)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob(f"my-{kind}/*/*/record.json")]
    assert sorted(r["method"]["name"] for r in records) == ["kmeans", "ss-kmeans"]
    for record in records:
        assert record["protocol"]["histograms"]["test"] == dict.fromkeys(CLASSES, 4)
        assert record["results"]["unlabelled_train"]["all"] > 0.9  # separable colours
        assert record["dataset_provenance"]["type"] == kind
    assert "my-" + kind in (tmp_path / "runs" / "leaderboard" / "LEADERBOARD.md").read_text()


def test_mistakes_in_a_declared_dataset_are_one_error(tmp_path):
    protocol = tmp_path / "bad.yaml"
    protocol.write_text(PROTOCOL.format(id="bad", dataset="bad-faces", spec="  type: imagefolder\n  root: nowhere"))
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "tiny_backbone.py").write_text(PLUGIN)
    proc = _sweep(tmp_path, protocol, tmp_path / "plugins")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "nowhere/train does not exist" in errors[0]
    protocol.write_text(PROTOCOL.format(id="bad", dataset="bad-faces", spec="  type: folders\n  root: x"))
    proc = _sweep(tmp_path, protocol, tmp_path / "plugins")
    assert proc.returncode == 2 and "'type' is one of ['csv', 'imagefolder']" in proc.stderr

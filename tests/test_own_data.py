"""Own data without editing the suite: a protocol file outside the checkout declares an imagefolder or CSV-list
dataset; a plugin folder (--plugins) adds the backbone; kmeans and ss-kmeans run end to end through the CLI. A
declared ``identity`` column gives the person diagnostics on the board and a subject-independent split."""
import json
import os
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


def _identity_protocols(tmp_path):
    """A CSV-listed dataset with a ``person`` column (8 people, each showing every class) and two protocols on
    it: the default split and a subject-independent one."""
    mine = tmp_path / "mine"
    mine.mkdir()
    rows = _write_images(mine / "pictures", "{label}-{i:02d}.jpg")
    (mine / "list.csv").write_text("path,label,split,person\n" + "".join(
        f"pictures/{p},{c},{s},p{int(p[-6:-4]) % 8}\n" for p, c, s in rows))
    spec = "  type: csv\n  file: list.csv\n  image_size: 16\n  attributes:\n    identity: {column: person}"
    files = []
    for protocol_id, extra in (("mine-people", ""), ("mine-people-si", "subject_independent: true\n")):
        files.append(mine / f"{protocol_id}.yaml")
        files[-1].write_text(PROTOCOL.format(id=protocol_id, dataset="mine-people-faces", spec=spec) + extra)
    return files


def test_a_declared_identity_column_gives_the_person_diagnostics_and_a_split_by_person(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "tiny_backbone.py").write_text(PLUGIN)
    files = _identity_protocols(tmp_path)
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    proc = subprocess.run([sys.executable, "run_benchmark.py", "--methods", "kmeans",
                           "--protocols", *map(str, files), "--plugins", str(plugins), "--runs-dir", str(runs),
                           "--cache-dir", str(cache)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "GFACE_CACHE_DIR": str(tmp_path / "default-cache")})
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "default-cache").exists()  # the sweep's own leaderboard reads the sweep's --cache-dir
    records = {r["protocol"]["id"]: r for r in (json.loads(p.read_text()) for p in runs.glob("*/*/*/record.json"))}
    assert set(records) == {"mine-people", "mine-people-si"}
    assert records["mine-people"]["protocol"]["split_sha256"] != records["mine-people-si"]["protocol"]["split_sha256"]
    section = (runs / "leaderboard" / "LEADERBOARD.md").read_text().split("## What do the clusters follow?")[1]
    assert "### mine-people\n" in section and "### mine-people-si\n" in section and "| person AMI" in section
    # the leaderboard a user types later, rebuilt from the records alone, finds the protocol files it is given
    out = tmp_path / "board"
    proc = subprocess.run([sys.executable, "run_benchmark.py", "leaderboard", "--runs-dir", str(runs), "--cache-dir",
                           str(cache), "--protocols", *map(str, files), "--rebuild", "--output-dir", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "### mine-people\n" in (out / "LEADERBOARD.md").read_text().split("## What do the clusters follow?")[1]
    diagnostics = (out / "results" / "mine-people" / "diagnostics.csv").read_text()
    assert "mine-people,kmeans," in diagnostics and ",identity,ami," in diagnostics


def test_mistakes_in_declared_attributes_are_one_error(tmp_path):
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "tiny_backbone.py").write_text(PLUGIN)
    protocol = _identity_protocols(tmp_path)[0]
    protocol.write_text(protocol.read_text().replace("{column: person}", "{column: subject}"))
    proc = _sweep(tmp_path, protocol, tmp_path / "plugins")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(errors) == 1
    assert "reads column 'subject'" in errors[0] and "its columns: path, label, split, person" in errors[0]

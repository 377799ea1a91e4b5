"""SynthFACE on disk in RAF-DB's layout (read back by PIL and by the real RAF-DB loader) and its registered loaders."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmark.core.errors import GFaceError
from benchmark.core.registry import DATASETS
from datasets.rafdb import load_rafdb_compound_from
from datasets.synthface.action_units import BASIC_CLASSES, COMPOUND_CLASSES
from datasets.synthface.generate import GENERATOR_VERSION, SynthConfig, generate_subset
from datasets.synthface.loaders import NAMES, load_synthface
from datasets.synthface.tools.raf_layout import main as raf_layout_main
from datasets.synthface.tools.raf_layout import write_raf_layout

TINY = SynthConfig(image_size=24, n_identities=5, basic_train=14, basic_test=7, compound_train=22,
                   compound_test=11, min_train_per_class=2)


def test_layout_files_decode_to_the_in_memory_images(tmp_path):
    basic_dir, compound_dir = write_raf_layout(tmp_path, TINY, seed=1)
    for folder, subset_name, n_codes in ((basic_dir, "basic", 7), (compound_dir, "compound", 11)):
        subset = generate_subset(subset_name, TINY, seed=1, progress=False)
        lines = (folder / "EmoLabel" / "list_patition_label.txt").read_text().splitlines()
        assert lines[0] == f"train_00001.jpg {subset.labels[0] + 1}"
        codes = [int(line.split()[1]) for line in lines]
        assert codes == (subset.labels + 1).tolist() and set(codes) == set(range(1, n_codes + 1))
        for stem, image in zip(subset.file_stems, subset.images):
            on_disk = np.asarray(Image.open(folder / "Image" / "aligned" / f"{stem}_aligned.jpg").convert("RGB"))
            assert np.array_equal(on_disk, image)


def test_real_rafdb_loader_reads_the_layout(tmp_path):
    basic_dir, compound_dir = write_raf_layout(tmp_path / "data", TINY, seed=1)
    via_rafdb = load_rafdb_compound_from(basic_dir, compound_dir, tmp_path / "cache", image_size=24)
    direct = load_synthface("synthface-compound", tmp_path / "cache", TINY, seed=1)
    assert via_rafdb.class_names == direct.class_names
    assert via_rafdb.sample_ids == direct.sample_ids
    assert np.array_equal(via_rafdb.labels, direct.labels)
    assert np.array_equal(np.asarray(via_rafdb.images), np.asarray(direct.images))


def test_layout_refuses_to_overwrite(tmp_path):
    (tmp_path / "raf-basic").mkdir()
    with pytest.raises(GFaceError, match="already exists"):
        write_raf_layout(tmp_path, TINY)
    assert raf_layout_main(["--out", str(tmp_path)]) == 2


def test_loaders_return_cached_fer_data(tmp_path):
    basic = load_synthface("synthface-basic", tmp_path, TINY, seed=2)
    assert basic.class_names == BASIC_CLASSES and len(basic) == 21
    assert basic.sample_ids[0] == "basic/train_00001" and basic.sample_ids[-1] == "basic/test_0007"
    assert basic.is_train.sum() == 14 and basic.images.shape == (21, 24, 24, 3)
    assert basic.provenance == {"generator": "synthface", "generator_version": GENERATOR_VERSION, "seed": 2,
                                "image_size": 24}
    assert isinstance(basic.images, np.memmap)
    again = load_synthface("synthface-basic", tmp_path, TINY, seed=2)
    assert again.content_key == basic.content_key and np.array_equal(again.images, basic.images)
    assert load_synthface("synthface-basic", tmp_path, TINY, seed=3).content_key != basic.content_key

    both = load_synthface("synthface-compound", tmp_path, TINY, seed=2)
    assert both.class_names == BASIC_CLASSES + COMPOUND_CLASSES and len(both) == 21 + 33
    compound_rows = np.array([s.startswith("compound/") for s in both.sample_ids])
    assert both.labels[compound_rows].min() >= 7 and both.labels[~compound_rows].max() <= 6
    assert np.array_equal(both.images[:21], basic.images)
    assert "compound/test_0011" in both.sample_ids
    assert not list(tmp_path.rglob(".synthface-*"))  # no temp folders left behind


def test_registered_names():
    assert NAMES == ("synthface-basic", "synthface-compound", "synthface-v4-basic", "synthface-v4-compound",
                     "synthface-v4-basic-noiseless", "synthface-v4-basic-unblended", "synthface-v4-basic-narrow")
    assert all(name in DATASETS.names() for name in NAMES)
    assert "expression model 4" in DATASETS.get("synthface-v4-basic").__doc__
    assert DATASETS.get("synthface-v4-basic-narrow").__doc__.startswith(
        "SynthFACE, expression model 4 with one factor set back (controls); model 4-narrow;")  # one board section

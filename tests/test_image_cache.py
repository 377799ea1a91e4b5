"""The decode-once image cache: exact decoding, memory-mapped re-use, keying, skips and atomic writes."""
import logging
import os

import numpy as np
import pytest
from PIL import Image

import datasets.image_cache as image_cache
from benchmark.core.errors import GFaceError
from datasets.image_cache import ImageSource, cached_images, decode_image, open_or_build
from tests.fixtures_real import grey_image, save_corrupt_jpeg, save_image


def _sources(folder, n, size=40):
    sources = []
    for i in range(n):
        path = folder / f"img{i}.jpg"
        save_image(path, grey_image(10 * i, size))
        sources.append(ImageSource(path, path.name))
    return sources


def test_decode_matches_pil_and_resizes_only_when_needed(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "a.png"
    Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(path)
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(decode_image(path, 30), expected)
    resized = decode_image(path, 20)
    assert resized.shape == (20, 20, 3) and resized.dtype == np.uint8
    assert np.array_equal(resized, np.asarray(Image.open(path).convert("RGB").resize((20, 20), image_cache.RESAMPLE)))


def test_grayscale_becomes_three_equal_channels(tmp_path):
    path = tmp_path / "g.jpg"
    save_image(path, np.arange(32 * 32, dtype=np.uint8).reshape(32, 32) % 200)
    image = decode_image(path, 32)
    assert image.shape == (32, 32, 3)
    assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])


def test_box_is_cropped_before_resizing(tmp_path):
    pixels = np.full((40, 60, 3), 250, dtype=np.uint8)
    pixels[8:24, 16:32] = 30
    path = tmp_path / "face.png"
    Image.fromarray(pixels).save(path)
    assert np.array_equal(decode_image(path, 16, (16, 8, 32, 24)), np.full((16, 16, 3), 30, dtype=np.uint8))


def test_second_load_decodes_nothing_and_is_memory_mapped(tmp_path, monkeypatch):
    sources = _sources(tmp_path / "img", 4)
    first = cached_images(sources, size=40, cache_dir=tmp_path / "cache", key_parts=["t"], desc="t")
    calls = []
    monkeypatch.setattr(image_cache, "decode_image", lambda *a: calls.append(a))
    second = cached_images(sources, size=40, cache_dir=tmp_path / "cache", key_parts=["t"], desc="t")
    assert calls == []
    assert isinstance(second.images, np.memmap) and second.key == first.key
    assert np.array_equal(np.asarray(first.images), np.asarray(second.images))
    assert [int(round(im.mean())) for im in second.images] == [0, 10, 20, 30]


def test_key_follows_size_parts_and_file_changes(tmp_path):
    sources = _sources(tmp_path / "img", 2)
    cache = tmp_path / "cache"
    base = cached_images(sources, size=40, cache_dir=cache, key_parts=["t"], desc="t")
    assert cached_images(sources, size=20, cache_dir=cache, key_parts=["t"], desc="t").images.shape[1] == 20
    assert cached_images(sources, size=40, cache_dir=cache, key_parts=["u"], desc="t").key != base.key
    save_image(sources[1].path, grey_image(200, 40))
    os.utime(sources[1].path, ns=(1, 1))
    changed = cached_images(sources, size=40, cache_dir=cache, key_parts=["t"], desc="t")
    assert changed.key != base.key and int(round(changed.images[1].mean())) == 200


def test_missing_and_corrupt_images_are_skipped_counted_and_reported(tmp_path, caplog):
    sources = _sources(tmp_path / "img", 5)
    sources[1].path.unlink()
    save_corrupt_jpeg(sources[3].path)
    (tmp_path / "img" / "img4.jpg").write_bytes(b"not an image at all")
    with caplog.at_level(logging.WARNING):
        result = cached_images(sources, size=40, cache_dir=tmp_path / "cache", key_parts=["t"], desc="tiny")
    assert result.kept.tolist() == [0, 2]
    assert result.missing == ("img1.jpg",) and result.corrupt == ("img3.jpg", "img4.jpg")
    assert result.provenance() == {"skipped_missing": 1, "skipped_corrupt": 2, "skipped_box_outside_image": 0}
    assert [int(round(im.mean())) for im in result.images] == [0, 20]
    assert "tiny: skipped 1 missing image(s): img1.jpg" in caplog.text
    assert "tiny: skipped 2 corrupt image(s): img3.jpg, img4.jpg" in caplog.text


def test_no_readable_image_is_an_error(tmp_path):
    sources = [ImageSource(tmp_path / "nowhere.jpg", "nowhere.jpg")]
    with pytest.raises(GFaceError, match="none of the 1 listed images could be read"):
        cached_images(sources, size=8, cache_dir=tmp_path / "cache", key_parts=["t"], desc="t")


def test_failed_build_leaves_neither_entry_nor_temporary_folder(tmp_path):
    def failing(folder):
        (folder / "images.npy").write_bytes(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        open_or_build(tmp_path, "k" * 64, failing)
    assert list((tmp_path / "images").iterdir()) == []
    built = open_or_build(tmp_path, "k" * 64, lambda folder: (folder / "x.npy").write_bytes(b"1"))
    assert built == tmp_path / "images" / ("k" * 64) and sorted(p.name for p in built.iterdir()) == ["x.npy"]

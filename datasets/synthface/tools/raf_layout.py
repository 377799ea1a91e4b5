"""Write SynthFACE in RAF-DB's on-disk layout, so the real RAF-DB loaders read it through the same code.

``<out>/raf-basic/`` and ``<out>/raf-compound/`` each hold ``EmoLabel/list_patition_label.txt`` (lines
``train_00001.jpg 5``, 1-based codes in class order) and ``Image/aligned/<stem>_aligned.jpg``: the exact JPEG
bytes whose decoding is the in-memory images.

    python -m datasets.synthface.tools.raf_layout --out DIR [--seed 0] [--image-size 48]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from benchmark.core.errors import GFaceError
from datasets.synthface.generate import SUBSETS, SynthConfig, SynthSubset, generate_subset
from datasets.synthface.loaders import SEED

FOLDERS = {"basic": "raf-basic", "compound": "raf-compound"}
LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"
IMAGE_DIR = Path("Image") / "aligned"


def write_subset(subset: SynthSubset, folder: Path) -> None:
    """Write one generated subset into folder (which must not exist yet)."""
    if folder.exists():
        raise GFaceError(f"{folder} already exists; remove it or choose another --out folder")
    (folder / IMAGE_DIR).mkdir(parents=True)
    (folder / LABEL_FILE).parent.mkdir(parents=True)
    for stem, data in zip(subset.file_stems, subset.jpeg):
        (folder / IMAGE_DIR / f"{stem}_aligned.jpg").write_bytes(data)
    lines = [f"{stem}.jpg {label + 1}\n" for stem, label in zip(subset.file_stems, subset.labels)]
    (folder / LABEL_FILE).write_text("".join(lines))


def write_raf_layout(out: Path, config: SynthConfig = SynthConfig(), seed: int = SEED) -> list[Path]:
    """Generate both subsets and write them under out; returns the two subset folders."""
    folders = [Path(out) / FOLDERS[name] for name in SUBSETS]
    for folder in folders:
        if folder.exists():
            raise GFaceError(f"{folder} already exists; remove it or choose another --out folder")
    for name, folder in zip(SUBSETS, folders):
        write_subset(generate_subset(name, config, seed), folder)
    return folders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.synthface.tools.raf_layout",
                                     description="Write SynthFACE in RAF-DB's layout (raf-basic/, raf-compound/).")
    parser.add_argument("--out", type=Path, required=True, help="folder to write raf-basic/ and raf-compound/ in")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--image-size", type=int, default=SynthConfig.image_size)
    args = parser.parse_args(argv)
    try:
        folders = write_raf_layout(args.out, replace(SynthConfig(), image_size=args.image_size), args.seed)
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("wrote " + " and ".join(map(str, folders)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A contact sheet for people to look at: one labelled row of SynthFACE samples per class (18 rows).

    python -m datasets.synthface.tools.contact_sheet --out synthface_contact_sheet.png [--per-class 8] [--expression-model 4]

Samples are fresh draws from the generator (same distributions as the registered datasets, train split), grouped by
their label (with expression model 4, the annotated label: a row may hold blends and mislabelled faces). Each row's
label says whether a protocol (``--protocol``, default ``synthface-basic``) treats its class as known (blue) or new
(orange); classes the protocol leaves out are grey.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmark.core.errors import GFaceError
from benchmark.core.paths import PROTOCOLS_DIR
from benchmark.protocol import Protocol
from datasets.synthface.expressions import EXPRESSION_MODELS, PROTOTYPE, ExpressionModel
from datasets.synthface.generate import SUBSETS, SynthConfig, generate_subset
from datasets.synthface.loaders import SEED

GAP = 4
ROLE_COLOURS = {"known": "#1f4e9c", "new": "#c2510c", "not in protocol": "#888888"}


def contact_sheet(per_class: int = 8, *, seed: int = SEED, image_size: int = 48, zoom: int = 3,
                  protocol: Protocol | None = None, expression: ExpressionModel = PROTOTYPE) -> Image.Image:
    """A PIL image: per class (basic then compound), its name, its role in ``protocol`` and per_class samples
    upscaled zoom times."""
    if per_class < 1 or zoom < 1:
        raise GFaceError(f"--per-class and --zoom must be at least 1, got {per_class} and {zoom}")
    config = SynthConfig(image_size=image_size, basic_train=7 * per_class, basic_test=0,
                         compound_train=11 * per_class, compound_test=0, min_train_per_class=per_class)
    rows: list[tuple[str, np.ndarray]] = []
    for name in SUBSETS:
        subset = generate_subset(name, config, seed, progress=False, expression=expression)
        rows += [(cls, subset.images[subset.labels == i][:per_class]) for i, cls in enumerate(subset.class_names)]
    tile = image_size * zoom
    font = ImageFont.load_default(size=max(12, tile // 8))
    labels = [(f"{cls} ({role(cls, protocol)})" if protocol else cls) for cls, _ in rows]
    label_width = GAP * 4 + int(max(font.getlength(label) for label in labels))
    sheet = Image.new("RGB", (label_width + per_class * (tile + GAP), len(rows) * (tile + GAP)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (cls, images) in enumerate(rows):
        top = r * (tile + GAP)
        colour = ROLE_COLOURS[role(cls, protocol)] if protocol else "black"
        draw.text((GAP * 2, top + tile // 2), labels[r], fill=colour, font=font, anchor="lm")
        for c, image in enumerate(images):
            face = Image.fromarray(np.asarray(image)).resize((tile, tile), Image.Resampling.BICUBIC)
            sheet.paste(face, (label_width + c * (tile + GAP), top))
    return sheet


def role(class_name: str, protocol: Protocol) -> str:
    return "known" if class_name in protocol.known else "new" if class_name in protocol.new else "not in protocol"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.synthface.tools.contact_sheet",
                                     description="Write a PNG grid of SynthFACE samples, one row per class.")
    parser.add_argument("--out", type=Path, default=Path("synthface_contact_sheet.png"))
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--image-size", type=int, default=SynthConfig.image_size)
    parser.add_argument("--zoom", type=int, default=3, help="upscaling factor of each face")
    parser.add_argument("--protocol", default="synthface-basic",
                        help="shipped protocol whose known and new classes the labels mark (default: synthface-basic)")
    parser.add_argument("--expression-model", choices=sorted(EXPRESSION_MODELS), default=PROTOTYPE.version,
                        help="SynthFACE expression model (datasets/synthface/README.md; default 3)")
    args = parser.parse_args(argv)
    try:
        protocol = Protocol.from_file(PROTOCOLS_DIR / f"{args.protocol}.yaml")
        sheet = contact_sheet(args.per_class, seed=args.seed, image_size=args.image_size, zoom=args.zoom,
                              protocol=protocol, expression=EXPRESSION_MODELS[args.expression_model])
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pretrain the SynthFACE backbone anew (ignoring the shipped weights) and compare it with the shipped file.

    python -m datasets.synthface.tools.pretrain_backbone --cache-dir /tmp/fresh

Renders the expression-blind pretraining faces, pretrains ``synthface-cnn`` with the default configuration into
``<cache-dir>/backbones/`` (about 3.5 minutes on 2 CPU cores) and prints its SHA-256 beside the shipped one. The
same code on the same kind of machine gives the same file; another CPU or library version may give other bits (and
then other numbers, which the run identity makes visible). To use the fresh file, keep that cache directory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasets.synthface.backbone.cnn import SHIPPED_SHA256, build_backbone, shipped_weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.synthface.tools.pretrain_backbone",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, required=True, help="where the fresh weights are cached")
    args = parser.parse_args(argv)
    backbone = build_backbone(args.cache_dir, use_shipped=False)
    same = backbone.weights_sha256 == SHIPPED_SHA256
    print(f"pretrained: {backbone.weights_sha256}\nshipped:    {SHIPPED_SHA256} ({shipped_weights().name})\n"
          f"{'identical' if same else 'different: runs with this cache record the fresh weights hash'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

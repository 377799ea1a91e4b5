"""Pretrain the SynthFACE backbone anew (ignoring the shipped weights) and compare it with the shipped file.

    python -m datasets.synthface.tools.pretrain_backbone --cache-dir /tmp/fresh [--backbone synthface-cnn-seed1]

Renders the expression-blind pretraining faces, pretrains ``synthface-cnn`` (or its seed-1 twin) into
``<cache-dir>/backbones/`` (about 3.5 minutes on 2 CPU cores) and prints its SHA-256 beside the shipped one. The
same code on the same kind of machine gives the same file; another CPU or library version may give other bits (and
then other numbers, which the run identity makes visible). To use the fresh file, keep that cache directory.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datasets.synthface.backbone.cnn import (DEFAULT_CONFIG, NAME, SECOND_CONFIG, SECOND_NAME, SHIPPED,
                                             build_backbone, shipped_weights)

CONFIGS = {NAME: DEFAULT_CONFIG, SECOND_NAME: SECOND_CONFIG}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datasets.synthface.tools.pretrain_backbone",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, required=True, help="where the fresh weights are cached")
    parser.add_argument("--backbone", choices=list(CONFIGS), default=NAME, help="which shipped backbone")
    args = parser.parse_args(argv)
    config = CONFIGS[args.backbone]
    backbone = build_backbone(args.cache_dir, config=config, use_shipped=False, name=args.backbone)
    same = backbone.weights_sha256 == SHIPPED[config]
    print(f"pretrained: {backbone.weights_sha256}\nshipped:    {SHIPPED[config]} ({shipped_weights(config).name})\n"
          f"{'identical' if same else 'different: runs with this cache record the fresh weights hash'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

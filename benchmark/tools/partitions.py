"""Write a family of known/new class partitions of a protocol as protocol files, once, to be committed.

    python -m benchmark.tools.partitions synthface-basic --count 5
    python -m benchmark.tools.partitions synthface-compound --count 3 --leave-one-new-out
    python -m benchmark.tools.partitions rafdb-basic --count 5 --unpinned   # licence-gated data: no pin

A family (protocols/README.md, "Fair comparison") holds ``--count`` partitions of the base protocol's classes, each
a protocol file ``<base>-p<i>.yaml`` listing its classes by name, with ``family: <base>-partitions``, a held-out
labelled validation set (``model_selection: labelled_validation``) and its split pinned by hash. They are drawn
once from ``--seed`` and committed; nothing re-draws them at run time, and the tool refuses to overwrite a file.
``--unpinned`` writes the files without reading the data and without ``split_sha256`` (the real datasets, which are
licence-gated and absent where the files are written; every run record still carries its split's hash).

- Default (a 7- or 8-class dataset): partition 0 is the base protocol's own; the others are other sets of K_old
  known classes, drawn without repetition, so every partition keeps K_old and K_new.
- ``--leave-one-new-out`` (the compound protocol): the known classes stay; each partition leaves one new class out
  of the protocol, drawn without repetition, so K_new is one less than the base protocol's.
Within a partition, classes keep the order of the base protocol's class list.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmark.core.errors import GFaceError
from benchmark.core.paths import PROTOCOLS_DIR, default_cache_dir
from benchmark.core.registry import PROTOCOLS
from benchmark.device import resolve_device
from benchmark.plugin_discovery import load_plugins
from benchmark.protocol import LABELLED_VALIDATION, VALIDATION, Protocol
from benchmark.runner import Environment
from benchmark.splits import materialise

VALIDATION_FRACTION = 0.2  # GCD's release: val_split = 0.2 of each known class's labelled images


def partitions(base: Protocol, count: int, seed: int, leave_one_new_out: bool) -> list[tuple[tuple, tuple]]:
    """``count`` (known, new) class tuples; see the module docstring."""
    classes = base.class_names
    if leave_one_new_out:
        if count > len(base.new):
            raise GFaceError(f"{base.id} has {len(base.new)} new classes, so at most {len(base.new)} partitions "
                             f"leave one out; lower --count")
        left_out = np.random.RandomState(seed).permutation(len(base.new))[:count]
        return [(base.known, tuple(c for c in base.new if c != base.new[i])) for i in left_out]
    others = [known for known in itertools.combinations(classes, base.n_known) if set(known) != set(base.known)]
    if count - 1 > len(others):
        raise GFaceError(f"{base.id} has only {len(others) + 1} partitions with {base.n_known} known classes; "
                         f"lower --count")
    drawn = [others[i] for i in np.random.RandomState(seed).permutation(len(others))[:count - 1]]
    return [(base.known, base.new)] + [(known, tuple(c for c in classes if c not in known)) for known in drawn]


def partition_file(base: Protocol, index: int, known: tuple, new: tuple, seed: int, split_sha256: str | None) -> str:
    """The protocol file's text; ``split_sha256`` None leaves the split unpinned (a note says why)."""
    note = ("leaves one new class out" if set(known) == set(base.known) and len(new) < len(base.new)
            else "is the base protocol's own" if index == 0 else "is drawn")
    lines = [f"id: {base.id}-p{index}", "version: 1", "description: >-",
             f"  Partition {index} of the {base.id}-partitions family (fair comparison, protocols/README.md); it "
             f"{note}. Written once by benchmark/tools/partitions.py (seed {seed}); never re-drawn.",
             f"family: {base.id}-partitions", f"dataset: {base.dataset}", f"backbone: {base.backbone}",
             f"known: [{', '.join(known)}]", f"new: [{', '.join(new)}]",
             f"labelled_fraction: {base.labelled_fraction}", f"split_seeds: [{', '.join(map(str, base.split_seeds))}]",
             f"split_sha256: {{{split_sha256}}}  # pinned: a changed split is an error, never silent"
             if split_sha256 is not None else "# split_sha256: none; licence-gated data, the record keeps the hash",
             f"k_given: {str(base.k_given).lower()}", f"eval_sets: [unlabelled_train, test, {VALIDATION}]",
             f"model_selection: {LABELLED_VALIDATION}", f"validation_fraction: {VALIDATION_FRACTION}",
             f"scorer: {base.scorer}", f"profile: {base.profile}", "default: false"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.partitions", description=__doc__.split("\n\n")[0])
    parser.add_argument("protocol", help="the base protocol id, e.g. synthface-basic")
    parser.add_argument("--count", type=int, default=5, help="partitions in the family (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    parser.add_argument("--leave-one-new-out", action="store_true",
                        help="keep the known classes; each partition leaves one new class out")
    parser.add_argument("--out-dir", type=Path, default=PROTOCOLS_DIR, help="where the files go (default protocols/)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--unpinned", action="store_true",
                        help="write no split_sha256 and read no data (a licence-gated dataset that is not here)")
    args = parser.parse_args(argv)
    try:
        load_plugins()
        base = PROTOCOLS.get(args.protocol)
        if not args.unpinned:
            env = Environment(Path("."), args.cache_dir, args.data_root, resolve_device("cpu"))
            data = env.dataset(base.dataset)
        for index, (known, new) in enumerate(partitions(base, args.count, args.seed, args.leave_one_new_out)):
            path = args.out_dir / f"{base.id}-p{index}.yaml"
            if path.exists():
                raise GFaceError(f"{path} exists: a family is written once; delete it first to re-draw on purpose")
            with tempfile.TemporaryDirectory() as scratch:  # the id must equal the file name
                draft = Path(scratch) / path.name
                draft.write_text(partition_file(base, index, known, new, args.seed, None))
                unpinned = Protocol.from_file(draft)
            pins = None if args.unpinned else ", ".join(
                f'{s}: "{materialise(unpinned, data, s).sha256}"' for s in base.split_seeds)
            path.write_text(partition_file(base, index, known, new, args.seed, pins))
            print(f"{path}: known {', '.join(known)}; new {', '.join(new)}")
    except GFaceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

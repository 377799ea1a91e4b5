"""Registering protocol files: the suite's ``protocols/`` folder, plugin folders and files named on the command line.

A file may declare its own dataset under ``dataset_spec`` (``datasets/dataset_spec.py``): own data without code;
or, under ``cross_dataset``, one composed of another dataset's training images and a third's test images
(``datasets/cross_dataset.py``).
A malformed file in a folder is registered as broken (``--list protocols`` shows why; only commands that select it
fail); a file named on the command line fails at once.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.protocol import Protocol
from benchmark.core.registry import PROTOCOLS
from benchmark.core.text_files import read_text

_sources: dict[str, Path] = {}  # protocol id -> the file it was read from


def register_folder(folder: Path) -> None:
    """Every ``*.yaml`` in ``folder``; a file that fails is registered as broken under its file name."""
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            register_file(path)
        except GFaceError as exc:
            if path.stem not in PROTOCOLS and path.stem not in PROTOCOLS.broken:
                PROTOCOLS.add_broken(path.stem, str(exc))


def register_file(path: Path) -> str:
    """Register one protocol file (and the dataset it declares); returns its id. Registering a file twice is a
    no-op; another file with the same id is an error."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise MissingFileError(f"protocol file {path} not found")
    if _sources.get(path.stem) == path:
        return path.stem
    protocol = Protocol.from_file(path)
    if protocol.id in PROTOCOLS or protocol.id in PROTOCOLS.broken:
        where = _sources.get(protocol.id, "a plugin")
        raise GFaceError(f"protocol file {path}: id {protocol.id!r} is already registered (from {where}); "
                         f"rename the file")
    raw = yaml.safe_load(read_text(path))
    if raw.get("dataset_spec") is not None:
        from datasets.dataset_spec import register_declared_dataset
        register_declared_dataset(protocol.dataset, raw["dataset_spec"], path)
    if raw.get("cross_dataset") is not None:
        from datasets.cross_dataset import register_cross_dataset
        register_cross_dataset(protocol.dataset, raw["cross_dataset"], path, protocol.class_names)
    PROTOCOLS.add(protocol.id, protocol)
    _sources[protocol.id] = path
    return protocol.id

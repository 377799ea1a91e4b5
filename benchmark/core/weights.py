"""Backbone weight files: where each lives, where it is officially published, and opt-in fetching.

A backbone module declares its file with ``register_weight_file(WeightFile(...))``. The file is ``$<env>`` when set
(``--weights NAME=PATH`` sets it), else ``<cache>/weights/<file_name>``; a backbone checks the file it loads with
``verify`` whatever its origin. ``weights fetch NAME`` downloads ``url``
only when asked, checks the pinned ``sha256`` (a full hash, or a prefix such as the 8 hex digits torchvision puts in
its file names) and moves the file into the cache; without a pin it reports the hash it computed.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.backbone import file_sha256, load_state_dict
from benchmark.core.errors import GFaceError, MissingFileError
from benchmark.core.paths import COMMAND
from benchmark.core.registry import Registry

WEIGHT_FILES: Registry = Registry("weight file")


@dataclass(frozen=True)
class WeightFile:
    """One registered backbone's weight file (``name`` = the backbone's name)."""

    name: str
    env: str
    file_name: str
    obtain_from: str
    url: str | None = None
    sha256: str | None = None  # None: not pinned (unknown); else the full hash or a prefix of it

    def path(self, cache_dir: Path) -> Path:
        """``$<env>`` if set, else ``<cache_dir>/weights/<file_name>``."""
        return Path(os.environ.get(self.env) or Path(cache_dir) / "weights" / self.file_name).expanduser()

    def cache_path(self, cache_dir: Path) -> Path:
        return Path(cache_dir).expanduser() / "weights" / self.file_name

    def advice(self) -> str:
        """How a user gets the file: the fetch command when a URL is declared, and the manual way."""
        fetch = f"run `{COMMAND} weights fetch {self.name}`, or " if self.url else ""
        return (f"{fetch}get it from {self.obtain_from} and pass it with --weights {self.name}=PATH "
                f"(or set ${self.env})")


def register_weight_file(weights: WeightFile) -> WeightFile:
    return WEIGHT_FILES.add(weights.name, weights)


def use_weight_files(assignments: list[str]) -> None:
    """``--weights NAME=PATH``: point each backbone's variable at an existing file (inherited by workers)."""
    for item in assignments:
        name, sep, raw = item.partition("=")
        if not (sep and name and raw):
            raise GFaceError(f"--weights {item!r}: expected NAME=PATH, e.g. --weights vit_b16_dino=~/dino.pth")
        weights, path = WEIGHT_FILES.get(name), Path(raw).expanduser().resolve()
        if not path.is_file():
            raise MissingFileError(f"--weights {item}: {path} is not a file")
        os.environ[weights.env] = str(path)


def fetch(name: str, cache_dir: Path, *, force: bool = False) -> tuple[Path, str]:
    """Download backbone ``name``'s weights into the cache and verify them; returns (path, computed sha256).

    A file already in the cache is only verified (``force``: downloaded again). A hash that differs from the pin is
    an error and nothing is kept.
    """
    weights = WEIGHT_FILES.get(name)
    if weights.url is None:
        raise GFaceError(f"backbone {name}: no official download URL is declared; get the file from "
                         f"{weights.obtain_from} and pass it with --weights {name}=PATH")
    target = weights.cache_path(cache_dir)
    if target.is_file() and not force:
        return target, verify(weights, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(weights.url) as response:  # noqa: S310 - the declared URL only
                    shutil.copyfileobj(response, out, 1 << 20)
            except OSError as exc:
                raise GFaceError(f"backbone {name}: downloading {weights.url} failed ({exc}); check the network, "
                                 f"or get the file from {weights.obtain_from} and pass --weights {name}=PATH") from exc
        digest = verify(weights, Path(temporary))
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
        return target, digest
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def verify(weights: WeightFile, path: Path) -> str:
    """The file's sha256; an error when a pin is declared and the hash does not start with it."""
    digest = file_sha256(path)
    if weights.sha256 and not digest.startswith(weights.sha256.lower()):
        raise GFaceError(f"backbone {weights.name}: {path} has sha256 {digest}, but {weights.sha256} is pinned: "
                         f"it is not the official file; delete it and {weights.advice()}")
    return digest


def check_state_keys(expected: dict, state: dict, source: WeightFile, path: Path, architecture: str,
                     optional_suffix: str | None = None) -> None:
    """Refuse a state dict whose keys or shapes differ from ``expected`` (a model's ``state_dict()``): one error
    listing the missing, unexpected and misshapen keys. Keys ending in ``optional_suffix`` may be missing."""
    problems = {
        "missing": [k for k in expected if k not in state
                    and not (optional_suffix and k.endswith(optional_suffix))],
        "unexpected": [k for k in state if k not in expected],
        "misshapen": [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                      if k in state and state[k].shape != v.shape],
    }
    if any(problems.values()):
        listed = "; ".join(f"{len(keys)} {kind} ({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''})"
                           for kind, keys in problems.items() if keys)
        raise GFaceError(f"backbone {source.name}: {path} does not hold {architecture} weights: {listed}. "
                         f"Get the right file from {source.obtain_from}")


def load_pinned(source: WeightFile, cache_dir: Path) -> tuple[object, Path, str]:
    """The checkpoint of ``source`` (``weights_only``), its path and its sha256, checked against the pin whether the
    file came from the cache or ``--weights``."""
    path = source.path(cache_dir)
    checkpoint = load_state_dict(path, what=f"backbone {source.name}", obtain_from=source.obtain_from,
                                 advice=source.advice())
    return checkpoint, path, verify(source, path)

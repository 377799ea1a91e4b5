"""What every subcommand shares: an argument parser whose mistakes end in one ``error:`` line, and the checks of the
folders a command writes into."""
from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path

from benchmark.core.errors import GFaceError


class Parser(argparse.ArgumentParser):
    """argparse whose mistakes end, like every other user mistake, in one ``error:`` line (exit status 2).

    Abbreviated options are refused (``--seed 3`` would otherwise run as ``--seeds 3``); the error suggests the
    option meant."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str):
        options = [option for action in self._actions for option in action.option_strings]
        unknown = message.partition("unrecognized arguments:")[2].split()
        close = sorted({match for word in unknown if word.startswith("-")
                        for match in difflib.get_close_matches(word.split("=")[0], options, n=1)})
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise GFaceError(f"{self.prog}: {message}{hint}; see {self.prog} --help")


def check_folder(option: str, path: Path) -> None:
    """A folder the command writes into may be absent (it is created), but not a file."""
    if Path(path).expanduser().exists() and not Path(path).expanduser().is_dir():
        raise GFaceError(f"{option} {path} is a file, not a folder; pass a folder (it is created if absent)")


def check_writable(option: str, path: Path) -> None:
    """Before anything is written: ``path`` (or the nearest folder it would be created in) lets this user write."""
    path = Path(path).expanduser()
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise GFaceError(f"{option} {path} cannot be created: {existing} is a file; pass another folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise GFaceError(f"{option} {path} is not writable: {existing} does not let this user write; fix its "
                         f"permissions or pass another folder")

"""Reading the suite's text inputs (protocol and cluster YAML, dataset specs, CSV and label lists, results tables,
run records): UTF-8 with or without a byte-order mark, and nothing else.

A file in another encoding (UTF-16, as some Windows editors save, or Latin-1) is one ``GFaceError`` naming the
file and the fix, never a ``UnicodeDecodeError`` traceback.
"""
from __future__ import annotations

from pathlib import Path

from benchmark.core.errors import GFaceError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
RESAVE_FIX = "re-save it as UTF-8 (with or without a byte-order mark)"
OFFICIAL_FILE_FIX = "restore the official file or re-save it as UTF-8"  # for a dataset's own label lists


def decode_text(data: bytes, path: Path | str, fix: str = RESAVE_FIX) -> str:
    """``data`` (the bytes of ``path``) as text: UTF-8, an optional BOM dropped; any other encoding is one clear
    error naming ``path`` and ``fix``."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        hint = " (it looks like UTF-16)" if data[:2] in _UTF16_BOMS else ""
        raise GFaceError(f"{path} is not UTF-8 text{hint}: byte {exc.start} cannot be decoded; {fix}") from None


def read_text(path: Path | str, fix: str = RESAVE_FIX) -> str:
    """The text of ``path`` (see ``decode_text``); an ``OSError`` (absent, a folder) is the caller's to word."""
    return decode_text(Path(path).read_bytes(), path, fix)

"""Content keys: stable SHA-256 names for cache entries."""
from __future__ import annotations

import hashlib


def content_key(*parts: bytes | str) -> str:
    """SHA-256 over length-prefixed parts: a stable key for caches."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()

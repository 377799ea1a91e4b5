"""A small generic registry (after timm's ``register_model``): a decorator and a glob query.

The instances of the suite live here; plugins add themselves with ``@METHODS.register(name)`` etc.
"""
from __future__ import annotations

import difflib
import fnmatch
from typing import Callable, Generic, Iterator, TypeVar

from benchmark.core.errors import GFaceError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps unique names to objects of one kind (``kind`` names it in messages)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self.broken: dict[str, str] = {}  # name -> why it could not be loaded (listed, refused when selected)

    def add(self, name: str, obj: T) -> T:
        if name in self._entries or name in self.broken:
            raise GFaceError(f"duplicate {self.kind} name {name!r}: it is already registered "
                             f"by {_origin(self._entries[name])}; choose another name")
        self._entries[name] = obj
        return obj

    def add_broken(self, name: str, reason: str) -> None:
        """Record an entry that failed to load: only commands that select it fail, with ``reason``."""
        self.broken[name] = reason

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@METHODS.register("kmeans")``."""
        return lambda obj: self.add(name, obj)

    def get(self, name: str) -> T:
        if name in self.broken:
            raise GFaceError(self.broken[name])
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._entries, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        return (f"unknown {self.kind} {name!r}.{hint} "
                f"Registered {self.kind}s: {', '.join(self.names()) or '(none)'}")

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted names matching a shell-style glob (``"ss-*"``)."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def select(self, patterns: list[str]) -> list[str]:
        """Expand names and globs (``all`` = every name); an unmatched pattern is an error."""
        chosen: list[str] = []
        for pattern in patterns:
            glob = "*" if pattern == "all" else pattern
            broken = sorted(n for n in self.broken if fnmatch.fnmatchcase(n, glob))
            if broken:
                raise GFaceError(self.broken[broken[0]])
            matched = self.names(glob)
            if not matched:
                raise UnknownNameError(self.unknown_message(pattern))
            chosen += [m for m in matched if m not in chosen]
        return chosen

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


def _origin(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else repr(obj)


METHODS: Registry = Registry("method")
DATASETS: Registry = Registry("dataset")
BACKBONES: Registry = Registry("backbone")
PROTOCOLS: Registry = Registry("protocol")
ATTRIBUTES: Registry = Registry("attribute source")  # dataset name -> per-image attributes (core/attributes.py)

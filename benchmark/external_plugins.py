"""Plugins and protocols outside the checkout: ``--plugins DIR`` / ``$GFACE_PLUGINS`` and ``--protocols FILE.yaml``.

Both travel in environment variables (``os.pathsep``-separated), so worker processes and cluster jobs load the
same ones. A plugin folder's ``*.py`` files are imported like the suite's own plugin modules and its ``*.yaml``
files are protocols.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from benchmark.core.errors import GFaceError, MissingFileError, PluginImportError

PLUGINS_ENV = "GFACE_PLUGINS"
PROTOCOLS_ENV = "GFACE_PROTOCOL_FILES"
_imported: set[Path] = set()


def add_to_env(variable: str, paths: list[Path]) -> None:
    """Append absolute ``paths`` to ``$variable`` (kept once each)."""
    current = [p for p in os.environ.get(variable, "").split(os.pathsep) if p]
    added = [str(Path(p).expanduser().resolve()) for p in paths]
    os.environ[variable] = os.pathsep.join(dict.fromkeys(current + added))


def env_paths(variable: str) -> list[Path]:
    return [Path(p).expanduser() for p in os.environ.get(variable, "").split(os.pathsep) if p]


def load_external_plugins() -> None:
    """Import the plugin folders of ``$GFACE_PLUGINS``, then register the protocol files of
    ``$GFACE_PROTOCOL_FILES`` (each once per process)."""
    from benchmark.protocol_registration import register_file, register_folder
    for folder in env_paths(PLUGINS_ENV):
        if not folder.is_dir():
            raise MissingFileError(f"plugin folder {folder} (--plugins or ${PLUGINS_ENV}) does not exist")
        for path in sorted(folder.glob("*.py")):
            if path.resolve() in _imported:
                continue
            _imported.add(path.resolve())
            try:
                _import_file(path)
            except GFaceError:
                raise
            except Exception as exc:  # noqa: BLE001 - re-raised with the file named
                raise PluginImportError(f"plugin file {path} failed to import: {type(exc).__name__}: {exc}. "
                                        f"Fix or remove that file; the run stops rather than skip it.") from exc
        register_folder(folder)
    for path in env_paths(PROTOCOLS_ENV):
        register_file(path)


def _import_file(path: Path) -> None:
    """Import ``path`` as module ``gface_plugin_<folder hash>_<stem>``."""
    tag = hashlib.sha256(str(path.parent.resolve()).encode()).hexdigest()[:8]
    name = f"gface_plugin_{tag}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise

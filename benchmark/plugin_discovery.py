"""Import every plugin module so that it registers itself.

A module that fails to import stops the run with its own error: plugins are never silently skipped. Packages named
``tools`` (command-line tools such as ``datasets/synthface/tools``) are not plugins and are never imported here. Then
the protocol files of ``protocols/``, then the plugin folders and protocol files outside the checkout
(``external_plugins.py``).
"""
from __future__ import annotations

import importlib
import os
import pkgutil

from benchmark.core.errors import GFaceError, PluginImportError

PLUGIN_PACKAGES = ("datasets", "methods", "benchmark.backbones")
SKIPPED_PACKAGE = "tools"  # command-line tools, run with python -m, never discovered
_loaded = False


def load_plugins() -> None:
    """Import all modules below the plugin packages and the protocol folder (once), then the user's plugins."""
    global _loaded
    if not _loaded:
        for package_name in PLUGIN_PACKAGES:
            for module_name in _walk(package_name):
                try:
                    importlib.import_module(module_name)
                except GFaceError:
                    raise
                except Exception as exc:  # noqa: BLE001 - re-raised with the module named
                    raise PluginImportError(
                        f"plugin module {module_name!r} failed to import: {type(exc).__name__}: {exc}. "
                        f"Fix or remove that file; the run stops rather than skip it.") from exc
        from benchmark.core.paths import PROTOCOLS_DIR
        from benchmark.protocol_registration import register_folder
        register_folder(PROTOCOLS_DIR)
        _loaded = True
    from benchmark.external_plugins import load_external_plugins
    load_external_plugins()


def _walk(package_name: str, path: list[str] | None = None) -> list[str]:
    """The package and every module below it, depth first (found on disk, imported by the caller); ``tools``
    packages are left out."""
    if path is None:
        path = list(getattr(importlib.import_module(package_name), "__path__", []))
    names = [package_name]
    for info in pkgutil.iter_modules(path):
        full = f"{package_name}.{info.name}"
        if not info.ispkg:
            names.append(full)
        elif info.name != SKIPPED_PACKAGE:
            names += _walk(full, [os.path.join(info.module_finder.path, info.name)])
    return names

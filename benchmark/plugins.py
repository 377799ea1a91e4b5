"""Import every plugin module so that it registers itself.

A module that fails to import stops the run with its own error: plugins are never silently skipped.
"""
from __future__ import annotations

import importlib
import pkgutil

from benchmark.errors import GFaceError

PLUGIN_PACKAGES = ("datasets", "methods", "benchmark.backbones")
_loaded = False


class PluginImportError(GFaceError):
    """A plugin module raised while being imported."""


def load_plugins() -> None:
    """Import all modules below the plugin packages (once), then the protocol files."""
    global _loaded
    if _loaded:
        return
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
    from benchmark.protocol import register_protocol_files
    register_protocol_files()
    _loaded = True


def _walk(package_name: str) -> list[str]:
    package = importlib.import_module(package_name)
    names = [package_name]
    if hasattr(package, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(package.__path__, package_name + ".")]
    return names

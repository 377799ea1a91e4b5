"""Import every plugin module so that it registers itself.

A module that fails to import stops the run with its own error: plugins are never silently skipped. Then the
protocol files of ``protocols/``, then the user's plugin folders and protocol files (``benchmark/user_plugins.py``).
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
        from benchmark.paths import PROTOCOLS_DIR
        from benchmark.protocol_files import register_folder
        register_folder(PROTOCOLS_DIR)
        _loaded = True
    from benchmark.user_plugins import load_user_plugins
    load_user_plugins()


def _walk(package_name: str) -> list[str]:
    package = importlib.import_module(package_name)
    names = [package_name]
    if hasattr(package, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(package.__path__, package_name + ".")]
    return names

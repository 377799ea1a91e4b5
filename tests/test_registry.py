"""Registry: decorator, glob queries, unknown names with suggestions, duplicates, failing plugins."""
import sys

import pytest

from benchmark.core.errors import GFaceError, PluginImportError, UnknownNameError
from benchmark.core.registry import BACKBONES, DATASETS, METHODS, PROTOCOLS
from benchmark.core.registry import Registry
from benchmark.plan import expand


def test_register_get_and_glob():
    reg = Registry("widget")

    @reg.register("ss-kmeans")
    def a():
        return 1

    reg.add("kmeans", 2)
    assert reg.get("ss-kmeans") is a
    assert reg.names() == ["kmeans", "ss-kmeans"]
    assert reg.names("ss-*") == ["ss-kmeans"]
    assert reg.select(["all"]) == ["kmeans", "ss-kmeans"]
    assert reg.select(["ss-*", "kmeans", "ss-kmeans"]) == ["ss-kmeans", "kmeans"]


def test_unknown_name_suggests_and_lists():
    reg = Registry("method")
    reg.add("kmeans", 1)
    reg.add("ss-kmeans", 2)
    with pytest.raises(UnknownNameError) as err:
        reg.get("kmean")
    message = str(err.value)
    assert "unknown method 'kmean'" in message and "Did you mean 'kmeans'" in message
    assert "Registered methods: kmeans, ss-kmeans" in message
    with pytest.raises(UnknownNameError, match="unknown method 'zzz-\\*'"):
        reg.select(["zzz-*"])


def test_duplicate_name_fails():
    reg = Registry("method")
    reg.add("kmeans", 1)
    with pytest.raises(GFaceError, match="duplicate method name 'kmeans'"):
        reg.add("kmeans", 2)


def test_shipped_plugins_are_registered():
    assert {"kmeans", "ss-kmeans"} <= set(METHODS)
    assert {"synthface-basic", "synthface-compound", "rafdb-basic", "rafdb-compound", "ferplus", "affectnet7",
            "affectnet8"} <= set(PROTOCOLS)
    assert {"synthface-cnn", "vit_b16_dino"} <= set(BACKBONES)
    assert {"synthface-basic", "synthface-compound", "rafdb-basic", "rafdb-compound", "ferplus",
            "affectnet7", "affectnet8"} <= set(DATASETS)


def test_main_command_runs_the_model_4_pair_by_default():
    """The default protocols are the embedded SynthFACE pair on expression model 4; the model-3 twins are opt-in."""
    planned = {spec.protocol for spec in expand(["kmeans"], None, 1, {})}  # no --protocols: the main command's plan
    assert {p.id for p in planned} == {"synthface-v4-basic", "synthface-v4-compound"}
    assert {p.dataset for p in planned} == {"synthface-v4-basic", "synthface-v4-compound"}


def test_failing_plugin_stops_with_its_error(tmp_path, monkeypatch):
    import benchmark.plugin_discovery as plugins
    package = tmp_path / "broken_plugins"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad_method.py").write_text("raise RuntimeError('boom in plugin')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "PLUGIN_PACKAGES", ("broken_plugins",))
    monkeypatch.setattr(plugins, "_loaded", False)
    with pytest.raises(PluginImportError, match="broken_plugins.bad_method.*RuntimeError: boom in plugin"):
        plugins.load_plugins()
    sys.modules.pop("broken_plugins", None)

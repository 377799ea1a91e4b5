"""A plugin folder (``--plugins`` / ``$GFACE_PLUGINS``) that gives the real command line the toy plugins.

Tests run ``python run_benchmark.py ...`` in a subprocess with this folder in ``$GFACE_PLUGINS``: the toy dataset,
backbones, method and protocols of ``tests/toy_plugins.py``, plus ``toy-failing``, a method whose run raises (an
unexpected failure, not a user mistake).
"""
from benchmark.core.registry import METHODS
from benchmark.method import Method
from tests.toy_plugins import ToyParams, add_toys


class ToyFailing(Method):
    """Fails inside its run, as a bug in a method would."""

    Params = ToyParams

    def run(self, task):
        raise RuntimeError("toy failure")


add_toys()
METHODS.add("toy-failing", ToyFailing)

"""The real command line, with the toy plugins registered, for tests that run it in a subprocess.

``python -m tests.toy_cli ARGS`` behaves as ``run_benchmark.py ARGS`` plus the toy dataset, backbones, method and
protocols; ``$GFACE_TEST_PROTOCOLS`` names a folder of further protocol files. Both are registered while the CLI
loads its plugins, so a broken protocol file fails inside the CLI as it would in ``protocols/``.
"""
import os
import sys
from pathlib import Path

import benchmark.protocol as protocol
from benchmark.cli import main
from benchmark.method import Method
from benchmark.core.registry import METHODS
from tests.toy_plugins import ToyParams, add_toys

_register_shipped = protocol.register_protocol_files


class ToyFailing(Method):
    """Fails inside its run, as a bug in a method would (an unexpected error, not a user mistake)."""

    Params = ToyParams

    def run(self, task):
        raise RuntimeError("toy failure")


def _register_with_toys(folder: Path = protocol.PROTOCOLS_DIR) -> None:
    _register_shipped(folder)
    add_toys()
    METHODS.add("toy-failing", ToyFailing)
    if os.environ.get("GFACE_TEST_PROTOCOLS"):
        _register_shipped(Path(os.environ["GFACE_TEST_PROTOCOLS"]))


protocol.register_protocol_files = _register_with_toys

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

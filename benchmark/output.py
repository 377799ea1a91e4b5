"""What the command line prints: plain log lines on stderr, progress bars only on a terminal, quiet broken pipes.

A run's start line and a failed run's traceback go to its ``log.txt`` only (``benchmark/runner.py``'s ``run_log``).
"""
from __future__ import annotations

import logging
import os
import sys


def configure_console() -> None:
    """Plain ``%(message)s`` lines on stderr (the suite's ``gface`` logger at INFO); progress bars off when stderr
    is not a terminal (redirected logs, Slurm files get no escape codes)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("gface").setLevel(logging.INFO)
    if not sys.stderr.isatty():
        disable_progress_bars()


def disable_progress_bars() -> None:
    """Every tqdm bar of this process is created disabled, whatever its call site asks for."""
    from tqdm import tqdm
    if getattr(tqdm.__init__, "_gface_disabled", False):
        return
    original = tqdm.__init__

    def disabled(self, *args, **kwargs):
        kwargs["disable"] = True
        original(self, *args, **kwargs)
    disabled._gface_disabled = True
    tqdm.__init__ = disabled


def silence_broken_pipe() -> int:
    """After stdout's reader went away (``| head``): drop further output and return the shell's SIGPIPE status."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141

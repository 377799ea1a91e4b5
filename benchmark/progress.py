"""A sweep's overall progress: runs finished of the total and the estimated time left.

On a terminal a tqdm bar; otherwise (a redirected log, a Slurm file) one plain line on stdout per finished run. The
estimate is the mean wall time per finished run so far (lanes included) times the runs left.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


def duration(seconds: float) -> str:
    """``1 h 02 min``, ``4 min 10 s``, ``38 s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class SweepProgress:
    """``advance(label)`` after each finished run (done or failed); ``close()`` at the end (or use ``with``)."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.finished, self.started = total, 0, time.monotonic()
        self.stream = stream or sys.stdout
        interactive = enabled and total > 0 and self.stream.isatty()
        self.bar = tqdm(total=total, desc="runs", unit="run", file=self.stream) if interactive else None
        self.plain = enabled and total > 0 and not interactive

    def advance(self, label: str) -> None:
        self.finished += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.plain:
            elapsed = time.monotonic() - self.started
            left = elapsed / self.finished * (self.total - self.finished)
            print(f"[{self.finished}/{self.total} runs] {label} finished; {duration(elapsed)} elapsed, "
                  f"about {duration(left)} left", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> SweepProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

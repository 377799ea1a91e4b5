"""Hyper-parameter search spaces (protocols/README.md, "Fair comparison"): one rule for every method.

A method lists, beside its ``Params``, which of its parameters are tuned and of what kind; ``tuned`` turns that into
spreads by one rule, so no method gets a wider or narrower search than another. Each range is centred on the value
the method runs with without a search (the paper's, or its profile's where the profile changes it):

- learning rates: log-uniform over one decade (``x 10^U(-0.5, 0.5)``);
- weight decays: log-uniform over two decades (``x 10^U(-1, 1)``);
- loss weights and temperatures: log-uniform from half to twice the value.

``draw(method, space, centre, protocol, split_seed, index)`` gives one configuration's values; draw 0 is the
configuration without a search (``centre``), and draws 1, 2, ... come from a generator seeded by a hash of (method,
protocol, split seed, draw), so a sweep is reproducible and every method gets the same number of draws.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from benchmark.core.errors import GFaceError

SIGNIFICANT_DIGITS = 4  # drawn values are rounded, so records and --show read cleanly


@dataclass(frozen=True)
class LogUniform:
    """A value whose logarithm is uniform on ``[log low, log high]``."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Spread:
    """Log-uniform from ``centre / factor`` to ``centre x factor``."""

    factor: float

    def around(self, centre: float) -> LogUniform:
        return LogUniform(centre / self.factor, centre * self.factor)


RATE, DECAY, SCALE = Spread(10 ** 0.5), Spread(10.0), Spread(2.0)


def tuned(params_class, rates: tuple[str, ...] = ("lr",), decays: tuple[str, ...] = ("weight_decay",),
          weights: tuple[str, ...] = (), temperatures: tuple[str, ...] = ()) -> dict[str, Spread]:
    """The search space of a method from the kinds of its tuned parameters (each a positive float field)."""
    defaults = {f.name: f.default for f in dataclasses.fields(params_class)}
    space = {}
    for names, spread in ((rates, RATE), (decays, DECAY), (weights + temperatures, SCALE)):
        for name in names:
            value = defaults.get(name)
            if isinstance(value, bool) or not isinstance(value, float) or value <= 0:
                raise GFaceError(f"{params_class.__name__}.{name}: a tuned parameter needs a positive float as its "
                                 f"default, got {value!r}")
            space[name] = spread
    return space


def draw_seed(method: str, protocol_id: str, split_seed: int, index: int) -> int:
    key = f"hparams|{method}|{protocol_id}|{split_seed}|{index}"
    return int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)


def draw(method: str, space: dict[str, Spread], centre: dict, protocol_id: str, split_seed: int, index: int) -> dict:
    """The values of draw ``index`` around ``centre`` (the configuration without a search; ``{}`` for draw 0)."""
    if index == 0:
        return {}
    rng = np.random.default_rng(draw_seed(method, protocol_id, split_seed, index))
    return {name: space[name].around(float(centre[name])).sample(rng) for name in sorted(space)}

"""Per-image facts a dataset knows beside its annotated labels (the person, expression intensity, the class before
annotation noise), for the scorer side only: a method's task never holds them (``benchmark/isolation.py``).

An attribute source is registered per dataset name in ``ATTRIBUTES`` (``benchmark/core/registry.py``) and called
as ``source(data_root, cache_dir, data) -> SampleAttributes`` with the dataset's loaded ``FERData``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError

IDENTITY = "identity"  # the factor name of the person an image shows


@dataclass(frozen=True, eq=False)
class SampleAttributes:
    """One value per row of a dataset (its ``FERData`` order).

    ``factors``: categorical attributes by name (``identity``, or any other), as strings; "" where unknown.
    ``true_labels``: native class index before annotation noise (None: the dataset does not know it).
    ``intensity``: the expression's magnitude (NaN where the face shows no expression; None: not known).
    """

    sample_ids: tuple[str, ...]
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    true_labels: np.ndarray | None = None
    intensity: np.ndarray | None = None

    def check(self, data: FERData) -> None:
        """Refuse attributes whose rows are not the dataset's rows."""
        if tuple(self.sample_ids) != tuple(data.sample_ids):
            raise GFaceError(f"the per-image attributes of dataset {data.name!r} do not list its images in its "
                             f"order; regenerate the dataset's cache (delete it) or fix the attribute source")
        for name, values in [*self.factors.items(), ("true_labels", self.true_labels),
                             ("intensity", self.intensity)]:
            if values is not None and len(values) != len(data):
                raise GFaceError(f"attribute {name!r} of dataset {data.name!r} has {len(values)} values for "
                                 f"{len(data)} images; fix the attribute source")


class AttributeSource(Protocol):
    """What ``ATTRIBUTES.register(dataset_name)`` expects."""

    def __call__(self, data_root, cache_dir, data: FERData) -> SampleAttributes: ...

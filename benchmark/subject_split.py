"""Subject-independent parts of a split (protocols with ``subject_independent: true``): D_L, D_U and test hold the
images of three disjoint groups of people, with the class histograms of the default split scaled by one factor.

From the default split's per-class counts ``T[part, class]`` (labelled, unlabelled, test) and the images of the
protocol's classes (official train and test pooled, since a person may appear in both):
1. each part gets a share of the people proportional to ``max_c T[part, c] / N_c`` (``N_c``: images of class c),
   the share that lets every class fill its part at the same scale;
2. the people, shuffled by ``RandomState(split_seed)``, are cut into the three groups at those shares of the images
   (a person goes where the middle of its images falls);
3. the scale ``s = min(1, min A[part, c] / T[part, c])`` (``A``: a group's images of a class) is the largest at
   which every group holds its part's images; each part draws ``max(1, floor(s * T[part, c]))`` images of each
   class from its group, without replacement, by the same random state, parts and classes in order.
"""
from __future__ import annotations

import numpy as np

from benchmark.core.errors import GFaceError

PARTS = ("labelled", "unlabelled", "test")


def subject_independent_parts(y: np.ndarray, people: np.ndarray, default_parts: tuple[np.ndarray, ...],
                              n_classes: int, split_seed: int, protocol_id: str) -> tuple[np.ndarray, ...]:
    """(labelled, unlabelled, test) rows; ``y``: protocol class per dataset row (-1 outside), ``people``: person
    per row ("" unknown), ``default_parts``: the default split's (labelled, unlabelled, test) rows."""
    pool = np.flatnonzero((y >= 0) & (people != ""))
    targets = np.stack([np.bincount(y[rows], minlength=n_classes) for rows in default_parts]).astype(float)
    totals = np.bincount(y[pool], minlength=n_classes).astype(float)
    need = (targets / np.maximum(totals, 1)).max(axis=1)
    bounds = np.cumsum(need / need.sum())
    rng = np.random.RandomState(split_seed)
    persons, person_of_row, images = np.unique(people[pool], return_inverse=True, return_counts=True)
    order = rng.permutation(len(persons))
    end = np.cumsum(images[order]) / len(pool)
    middle = end - images[order] / (2 * len(pool))
    group_of_person = np.empty(len(persons), np.int64)
    group_of_person[order] = np.minimum(np.searchsorted(bounds, middle, side="right"), len(PARTS) - 1)
    group = group_of_person[person_of_row]
    available = [[pool[(group == p) & (y[pool] == c)] for c in range(n_classes)] for p in range(len(PARTS))]
    counts = np.array([[len(a) for a in per_class] for per_class in available], float)
    wanted = targets > 0
    scale = min(1.0, float((counts[wanted] / targets[wanted]).min()))
    if scale <= 0:
        part, c = np.argwhere(wanted & (counts == 0))[0]
        raise GFaceError(f"protocol {protocol_id!r}: the people of the {PARTS[part]} part show no image of class "
                         f"{c}; a subject-independent split needs more people per class than the dataset has")
    take = np.where(wanted, np.maximum(1, np.floor(scale * targets)), 0).astype(np.int64)
    return tuple(np.sort(np.concatenate([rng.choice(available[p][c], take[p, c], replace=False)
                                         for c in range(n_classes)])) for p in range(len(PARTS)))

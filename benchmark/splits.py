"""A protocol's split of a dataset, built deterministically and hashed: ``materialise``.

Split construction follows GCD (protocols/README.md, "How the split is built"): known-class training images in file
order, NumPy's legacy ``RandomState(split_seed).choice`` draws ``floor(fraction * N_old)`` of them without replacement
as the labelled set; every other training image of the protocol's classes is unlabelled; the test set is the official
test split. Classes are re-indexed known first (0..K_old-1), then new, in protocol order. A protocol that selects
models on labelled images holds out ``validation_fraction`` of each known class's labelled images as the
``validation`` set, as GCD's release does (``val_split = 0.2`` per class).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from benchmark.core.attributes import IDENTITY, SampleAttributes
from benchmark.core.data import FERData
from benchmark.core.errors import GFaceError
from benchmark.protocol import OSFER_POOL, VALIDATION, Protocol
from benchmark.subject_split import subject_independent_parts


@dataclass(frozen=True, eq=False)
class Split:
    """Row indices into the dataset and re-indexed labels of the labelled, unlabelled and test sets."""

    protocol: Protocol
    split_seed: int
    labelled_idx: np.ndarray
    labelled_y: np.ndarray
    unlabelled_idx: np.ndarray
    unlabelled_y: np.ndarray
    test_idx: np.ndarray
    test_y: np.ndarray
    sha256: str
    validation_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    validation_y: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def indices(self, eval_set: str) -> np.ndarray:
        return self.pooled({"unlabelled_train": self.unlabelled_idx, "test": self.test_idx,
                            VALIDATION: self.validation_idx}, eval_set)

    def labels(self, eval_set: str) -> np.ndarray:
        return self.pooled({"unlabelled_train": self.unlabelled_y, "test": self.test_y,
                            VALIDATION: self.validation_y}, eval_set)

    def pooled(self, per_set: dict[str, np.ndarray], eval_set: str) -> np.ndarray | None:
        """``per_set[eval_set]``; for ``osfer_pool`` the test values, then the D_U values of new-class images
        (None when a part is missing)."""
        if eval_set != OSFER_POOL:
            return per_set.get(eval_set)
        test, unlabelled = per_set.get("test"), per_set.get("unlabelled_train")
        if test is None or unlabelled is None:
            return None
        return np.concatenate([test, np.asarray(unlabelled)[self.unlabelled_y >= self.protocol.n_known]])

    def histograms(self) -> dict[str, dict[str, int]]:
        names = self.protocol.class_names
        return {part: dict(zip(names, np.bincount(y, minlength=len(names)).tolist()))
                for part, y in (("labelled", self.labelled_y), ("unlabelled", self.unlabelled_y),
                                ("test", self.test_y), (VALIDATION, self.validation_y)) if len(y)}


def materialise(protocol: Protocol, data: FERData, split_seed: int,
                attributes: SampleAttributes | None = None) -> Split:
    """Build the split deterministically and hash it; a pinned hash that differs is an error. A subject-independent
    protocol re-draws the parts from disjoint people (``subject_split.py``), the identities coming from the
    dataset's ``attributes``."""
    native_to_protocol = np.full(len(data.class_names), -1, dtype=np.int64)
    for new_index, name in enumerate(protocol.class_names):
        try:
            native_to_protocol[data.class_index(name)] = new_index
        except GFaceError as exc:
            raise GFaceError(f"protocol {protocol.id!r} names class {name!r}, which dataset {data.name!r} lacks. "
                             f"Its classes are: {', '.join(data.class_names)}. Fix the class name in "
                             f"protocols/{protocol.id}.yaml") from exc
    y = native_to_protocol[data.labels]
    in_protocol = y >= 0
    train_rows = np.flatnonzero(in_protocol & data.is_train)
    known_rows = train_rows[y[train_rows] < protocol.n_known]
    chosen = np.random.RandomState(split_seed).choice(
        len(known_rows), size=int(protocol.labelled_fraction * len(known_rows)), replace=False)
    labelled = np.sort(known_rows[chosen])
    if not len(labelled):
        raise GFaceError(f"protocol {protocol.id!r}: labelled_fraction {protocol.labelled_fraction} of the "
                         f"{len(known_rows)} known-class training images labels none of them; raise "
                         f"labelled_fraction in the protocol file")
    unlabelled = np.setdiff1d(train_rows, labelled)
    test = np.flatnonzero(in_protocol & ~data.is_train)
    if protocol.subject_independent:
        labelled, unlabelled, test = subject_independent_parts(
            y, _people(protocol, data, attributes), (labelled, unlabelled, test), len(protocol.class_names),
            split_seed, protocol.id)
        train_rows = np.union1d(labelled, unlabelled)
    labelled, validation = hold_out_validation(labelled, y[labelled], protocol.validation_fraction, split_seed)
    for part, rows in (("training", train_rows), ("test", test)):
        absent = set(protocol.class_names) - {protocol.class_names[c] for c in np.unique(y[rows])}
        if absent:
            raise GFaceError(f"protocol {protocol.id!r}: dataset {data.name!r} has no {part} images of "
                             f"{sorted(absent)}; check the dataset files or the protocol's class list")
    parts = (labelled, unlabelled, test) + ((validation,) if len(validation) else ())
    digest = split_digest(protocol, split_seed, data, y, *parts)
    pinned = dict(protocol.split_sha256).get(split_seed)
    if pinned and pinned != digest:
        raise GFaceError(f"protocol {protocol.id!r} pins split seed {split_seed} to sha256 {pinned[:12]}…, but "
                         f"the data gives {digest[:12]}…. The dataset or the split code changed; a changed split "
                         f"needs a new protocol id (or version), never a silent edit")
    return Split(protocol, split_seed, labelled, y[labelled], unlabelled, y[unlabelled], test, y[test], digest,
                 validation, y[validation])


def _people(protocol: Protocol, data: FERData, attributes: SampleAttributes | None) -> np.ndarray:
    if attributes is None or IDENTITY not in attributes.factors:
        raise GFaceError(f"protocol {protocol.id!r} splits by person (subject_independent: true), but dataset "
                         f"{data.name!r} declares no {IDENTITY!r} attribute; declare one in its dataset spec "
                         f"(register an attribute source: benchmark/README.md, \"What do the clusters follow?\") "
                         f"or drop subject_independent")
    attributes.check(data)
    return np.asarray(attributes.factors[IDENTITY]).astype(str)


def hold_out_validation(labelled: np.ndarray, labels: np.ndarray, fraction: float,
                        split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labelled rows kept, validation rows): ``int(fraction * n_c)`` rows of each class, drawn per class in class
    order by ``RandomState(split_seed)`` (GCD's ``get_train_val_indices``); nothing is held out at fraction 0."""
    if not fraction:
        return labelled, labelled[:0]
    rng = np.random.RandomState(split_seed)
    held = [rng.choice(labelled[labels == c], size=int(fraction * np.sum(labels == c)), replace=False)
            for c in np.unique(labels)]
    validation = np.sort(np.concatenate(held))
    return np.setdiff1d(labelled, validation), validation


def split_digest(protocol: Protocol, split_seed: int, data: FERData, y: np.ndarray, *parts: np.ndarray) -> str:
    """SHA-256 of the class list and the (sample id, class) pairs of each part, in order."""
    payload = {"classes": list(protocol.class_names), "split_seed": split_seed,
               "parts": [[[data.sample_ids[i], protocol.class_names[y[i]]] for i in rows] for rows in parts]}
    return hashlib.sha256(json.dumps(payload, separators=(",", ":")).encode()).hexdigest()

"""Protocols are data: ``protocols/<id>.yaml`` names known and new classes, the labelled fraction, split seeds and
the evaluation sets; ``Protocol.from_file`` reads and checks one (the split itself: ``benchmark/splits.py``).

Open-set protocols (``kind: open-set``; Open-Set-FER's leave-one-class-out, protocols/README.md, "Open-set protocols")
name one new class, the open class, and are scored on ``osfer_pool``: every test image plus the training images of the
open class. Methods predict D_U and the test split; the pool is composed from those predictions when scoring.

Label-free model selection (``model_selection: labelled_validation``; protocols/README.md, "Fair comparison") holds
out ``validation_fraction`` of each known class's labelled images as the ``validation`` set (``benchmark/splits.py``):
methods predict it without its labels, and the selection rule scores only it. """
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmark.core.errors import GFaceError
from benchmark.core.paths import PROTOCOLS_DIR
from benchmark.core.registry import PROTOCOLS
from benchmark.core.scorer import SCORER_NAME
from benchmark.core.text_files import read_text

VALIDATION = "validation"  # held-out labelled images, predicted without their labels (labelled_validation)
PREDICTED_SETS = ("unlabelled_train", "test", VALIDATION)  # the sets a method predicts
OSFER_POOL = "osfer_pool"  # scored from the predictions of D_U and test
POOL_PARTS = ("unlabelled_train", "test")
EVAL_SETS = PREDICTED_SETS + (OSFER_POOL,)
KINDS = ("gcd", "open-set")
PROFILES = ("paper", "cpu")  # parameter profiles (--profile)
LABELLED_VALIDATION = "labelled_validation"
MODEL_SELECTION = ("last_epoch", LABELLED_VALIDATION)  # every run trains its fixed schedule and keeps the last
# epoch; labelled_validation also scores a held-out part of D_L, so a search can choose among configurations
_REQUIRED = {"id", "version", "dataset", "backbone", "known", "new", "labelled_fraction", "split_seeds",
             "k_given", "eval_sets", "model_selection", "scorer"}
_OPTIONAL = {"description", "profile", "default", "split_sha256", "kind", "family", "validation_fraction",
             "dataset_spec",  # a dataset declared in the file (benchmark/protocol_registration.py)
             "subject_independent", "cross_dataset"}


@dataclass(frozen=True)
class Protocol:
    id: str
    version: int
    dataset: str
    backbone: str
    known: tuple[str, ...]
    new: tuple[str, ...]
    labelled_fraction: float
    split_seeds: tuple[int, ...]
    k_given: bool
    eval_sets: tuple[str, ...]
    model_selection: str
    scorer: str
    description: str = ""
    profile: str = "paper"
    default: bool = False
    split_sha256: tuple[tuple[int, str], ...] = ()
    kind: str = "gcd"
    family: str = ""  # a family of class partitions this protocol belongs to ("": none)
    validation_fraction: float = 0.0  # share of each known class's labelled images held out (labelled_validation)
    subject_independent: bool = False  # D_L, D_U and test show disjoint people (benchmark/subject_split.py)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.known + self.new

    @property
    def open_class(self) -> str | None:
        """The held-out class of an open-set protocol, else None."""
        return self.new[0] if self.kind == "open-set" else None

    @property
    def prediction_sets(self) -> tuple[str, ...]:
        """The sets methods predict: the evaluation sets, with ``osfer_pool`` standing for D_U and test."""
        parts = [POOL_PARTS if s == OSFER_POOL else (s,) for s in self.eval_sets]
        return tuple(dict.fromkeys(s for part in parts for s in part))

    @property
    def n_known(self) -> int:
        return len(self.known)

    @classmethod
    def from_file(cls, path: Path) -> "Protocol":
        try:
            raw = yaml.safe_load(read_text(path))
        except yaml.YAMLError as exc:
            raise GFaceError(f"protocol file {path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise GFaceError(f"protocol file {path} must hold a mapping of fields, got {type(raw).__name__}")
        missing, unknown = _REQUIRED - raw.keys(), raw.keys() - _REQUIRED - _OPTIONAL
        if missing or unknown:
            raise GFaceError(f"protocol file {path}: " + "; ".join(
                part for part in (f"missing fields {sorted(missing)}" if missing else "",
                                  f"unknown fields {sorted(unknown)}" if unknown else "") if part)
                + f". Allowed fields: {sorted(_REQUIRED | _OPTIONAL)}")
        if raw["id"] != Path(path).stem:
            raise GFaceError(f"protocol file {path} declares id {raw['id']!r}; the id must equal the file name")
        read = _FieldReader(path, raw)
        protocol = cls(
            id=raw["id"], version=read.integer("version"), dataset=read.text("dataset"),
            backbone=read.text("backbone"), known=read.names("known"), new=read.names("new"),
            labelled_fraction=read.number("labelled_fraction"),
            split_seeds=tuple(read.integers("split_seeds")), k_given=read.boolean("k_given"),
            eval_sets=read.names("eval_sets"), model_selection=read.text("model_selection"),
            scorer=read.text("scorer"), description=read.text("description", "") if raw.get("description") else "",
            profile=read.text("profile", "paper"), default=read.boolean("default", False),
            split_sha256=read.pinned_hashes("split_sha256"), kind=read.text("kind", "gcd"),
            family=read.text("family", "") if raw.get("family") else "",
            validation_fraction=read.number("validation_fraction") if "validation_fraction" in raw else 0.0,
            subject_independent=read.boolean("subject_independent", False))
        protocol.validate(path)
        return protocol

    def validate(self, where: Path | str) -> None:
        problems = []
        overlap = set(self.known) & set(self.new)
        if overlap:
            problems.append(f"classes {sorted(overlap)} are both known and new")
        if len(set(self.class_names)) != len(self.class_names):
            problems.append("a class is listed twice")
        if not self.known:
            problems.append("no known classes")
        if not self.new:
            problems.append("no new classes (category discovery needs at least one)")
        if not 0 < self.labelled_fraction <= 1:
            problems.append(f"labelled_fraction {self.labelled_fraction} is not in (0, 1]")
        bad_sets = set(self.eval_sets) - set(EVAL_SETS)
        if bad_sets or not self.eval_sets:
            problems.append(f"eval_sets must be a non-empty subset of {list(EVAL_SETS)}, got {list(self.eval_sets)}")
        if self.version < 1:
            problems.append(f"version {self.version} is below 1")
        if not self.split_seeds:
            problems.append("split_seeds is empty")
        if any(not 0 <= seed < 2 ** 32 for seed in self.split_seeds) or len(set(self.split_seeds)) != len(
                self.split_seeds):
            problems.append(f"split_seeds {list(self.split_seeds)} must be distinct integers 0..2**32-1")
        unpinnable = sorted({seed for seed, _ in self.split_sha256} - set(self.split_seeds))
        if unpinnable:
            problems.append(f"split_sha256 pins seeds {unpinnable}, which split_seeds lacks")
        if self.profile not in PROFILES:
            problems.append(f"profile {self.profile!r} is not one of {list(PROFILES)}")
        if self.scorer != SCORER_NAME:
            problems.append(f"scorer {self.scorer!r} is not this suite's scorer {SCORER_NAME!r}")
        if self.model_selection not in MODEL_SELECTION:
            problems.append(f"model_selection {self.model_selection!r} is not one of {list(MODEL_SELECTION)}")
        selects = self.model_selection == LABELLED_VALIDATION
        if selects != (VALIDATION in self.eval_sets) or selects != (0 < self.validation_fraction < 1):
            problems.append(f"model_selection {LABELLED_VALIDATION!r}, eval set {VALIDATION!r} and a "
                            f"validation_fraction in (0, 1) go together (got model_selection "
                            f"{self.model_selection!r}, eval_sets {list(self.eval_sets)}, validation_fraction "
                            f"{self.validation_fraction})")
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {list(KINDS)}")
        if self.kind == "open-set" and (len(self.new) != 1 or OSFER_POOL not in self.eval_sets):
            problems.append(f"an open-set protocol names exactly one new class (the open class) and scores "
                            f"{OSFER_POOL!r}; got new {list(self.new)}, eval_sets {list(self.eval_sets)}")
        if problems:
            raise GFaceError(f"protocol {self.id!r} ({where}): " + "; ".join(problems))


@dataclass(frozen=True)
class _FieldReader:
    """Typed reads of a protocol file's fields; a wrong type is one error naming the file, field and fix."""

    path: Path
    raw: dict

    def _fail(self, name: str, expected: str):
        raise GFaceError(f"protocol file {self.path}: field {name!r} is {self.raw[name]!r}; expected {expected}")

    def text(self, name: str, default: str | None = None) -> str:
        value = self.raw.get(name, default)
        if not isinstance(value, str) or not value:
            self._fail(name, "a non-empty string")
        return value

    def integer(self, name: str) -> int:
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(name, "an integer, e.g. 1")
        return value

    def integers(self, name: str) -> list[int]:
        values = self.raw[name]
        if not isinstance(values, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            self._fail(name, "a list of integers, e.g. [0]")
        return values

    def number(self, name: str) -> float:
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(name, "a number, e.g. 0.5")
        return float(value)

    def boolean(self, name: str, default: bool | None = None) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            self._fail(name, "true or false")
        return value

    def names(self, name: str) -> tuple[str, ...]:
        values = self.raw[name]
        if not isinstance(values, list) or any(not isinstance(v, str) or not v for v in values):
            self._fail(name, "a list of names, e.g. [fear, disgust] (a single name still needs the brackets)")
        return tuple(values)

    def pinned_hashes(self, name: str) -> tuple[tuple[int, str], ...]:
        values = self.raw.get(name) or {}
        if not isinstance(values, dict) or any(isinstance(k, bool) or not isinstance(k, int)
                                               or not isinstance(v, str) for k, v in values.items()):
            self._fail(name, "a mapping of split seed to sha256, e.g. {0: 3f2a...}")
        return tuple(sorted(values.items()))

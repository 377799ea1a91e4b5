"""Expanding methods x protocols x seeds (x ablations) into idempotent runs with stable ids and folders.

A method class may declare ``ablation_terms: ClassVar[dict[str, str]]`` (term label -> weight parameter); with
``ablate=True`` each such method also runs once per term with that weight set to 0. With ``hparam_search=N`` each
method with a search space runs N configurations per split seed (``benchmark/search_space.py``; draw 0 = its
configuration without a search), on protocols that select models on held-out labelled images.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import GFaceError
from benchmark.method import resolve_params
from benchmark.protocol import LABELLED_VALIDATION, Protocol
from benchmark.core.registry import METHODS, PROTOCOLS
from benchmark.search_space import draw


@dataclass(frozen=True)
class RunSpec:
    protocol: Protocol
    method: str
    profile: str
    params: dict
    backbone: str
    split_seed: int
    repetition: int
    ablation: str | None = None  # the removed term's label for an ablation run
    hparam_draw: int = 0  # which configuration of a hyper-parameter search (0: the one without a search)
    identity: tuple[tuple[str, str], ...] = ()  # what the numbers depend on beyond the config (``with_identity``)

    @property
    def training_seed(self) -> int:
        """Derived from method, dataset, protocol, split seed and repetition (benchmark/README.md, "Evaluation",
        "Seeds")."""
        key = f"{self.method}|{self.protocol.dataset}|{self.protocol.id}|{self.split_seed}|{self.repetition}"
        return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)

    @property
    def run_id(self) -> str:
        """Seeds in clear, then a hash of everything else that changes results: params, backbone, protocol version
        and, once the preflight has filled ``identity``, the data, split, weights, method code and scorer versions.
        A change of any of them gives a new id, so the old record no longer counts as done."""
        config = {"method": self.method, "params": self.params, "backbone": self.backbone,
                  "protocol": self.protocol.id, "protocol_version": self.protocol.version}
        if self.ablation is not None:
            config["ablation"] = self.ablation
        if self.identity:
            config["identity"] = dict(self.identity)
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        return f"split{self.split_seed}-rep{self.repetition}-{digest}"

    def folder(self, runs_dir: Path) -> Path:
        return Path(runs_dir) / self.protocol.id / self.method / self.run_id

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "protocol": self.protocol.id, "protocol_version": self.protocol.version,
                "dataset": self.protocol.dataset, "method": self.method, "profile": self.profile,
                "params": self.params, "backbone": self.backbone, "split_seed": self.split_seed,
                "repetition": self.repetition, "training_seed": self.training_seed, "ablation": self.ablation,
                "hparam_draw": self.hparam_draw, "identity": dict(self.identity)}

    def with_identity(self, identity: dict[str, str]) -> "RunSpec":
        return dataclasses.replace(self, identity=tuple(sorted(identity.items())))


def expand(method_patterns: list[str], protocol_patterns: list[str] | None, repetitions: int,
           overrides: dict[str, dict[str, str]], profile: str | None = None, ablate: bool = False,
           budget: int | None = None, hparam_search: int = 0) -> list[RunSpec]:
    """All runs of the sweep. ``protocol_patterns=None`` means the default (embedded) protocols.

    ``ablate``: after each method's full configuration, one configuration per declared ablation term.
    ``budget``: every learner's epochs (its schedules scaled; benchmark/budget.py) instead of its profile's.
    ``hparam_search``: N configurations per method with a search space and split seed (0: no search).
    """
    methods = METHODS.select(method_patterns)
    protocols = (PROTOCOLS.select(protocol_patterns) if protocol_patterns
                 else [p for p in PROTOCOLS.names() if PROTOCOLS.get(p).default])
    unknown_targets = set(overrides) - set(methods)
    if unknown_targets:
        raise GFaceError(f"--set names {sorted(unknown_targets)}, which are not among the selected methods "
                         f"{methods}; write --set METHOD.PARAM=VALUE for a method you run")
    if ablate and not any(ablation_terms(m) for m in methods):
        declaring = [m for m in METHODS.names() if ablation_terms(m)]
        raise GFaceError(f"--ablate: none of the selected methods {methods} declares ablation terms; methods that "
                         f"do: {', '.join(declaring) or 'none'}")
    if hparam_search:
        check_search(methods, [PROTOCOLS.get(p) for p in protocols], overrides, ablate)
    specs = []
    for protocol_id in protocols:
        protocol = PROTOCOLS.get(protocol_id)
        chosen_profile = profile or protocol.profile
        for method in methods:
            method_class = METHODS.get(method)
            params = method_class.run_params(resolve_params(method, method_class, chosen_profile,
                                                            overrides.get(method, {}), budget))
            if not hparam_search:
                configs = [(params, None)] + (ablated_configs(method, params) if ablate else [])
                specs += [RunSpec(protocol, method, chosen_profile, config, protocol.backbone, seed, rep, ablation)
                          for config, ablation in configs for seed in protocol.split_seeds
                          for rep in range(repetitions)]
                continue
            space = METHODS.get(method).search_space
            specs += [RunSpec(protocol, method, chosen_profile,
                              {**params, **draw(method, space, params, protocol.id, seed, i)},
                              protocol.backbone, seed, rep, hparam_draw=i)
                      for seed in protocol.split_seeds for i in range(hparam_search if space else 1)
                      for rep in range(repetitions)]
    return specs


def check_search(methods: list[str], protocols: list[Protocol], overrides: dict[str, dict[str, str]],
                 ablate: bool) -> None:
    """``--hparam-search`` needs protocols that select on held-out labelled images, and leaves the drawn
    parameters to the draws."""
    blind = [p.id for p in protocols if p.model_selection != LABELLED_VALIDATION]
    if blind:
        families = sorted(p.id for p in map(PROTOCOLS.get, PROTOCOLS.names())
                          if p.model_selection == LABELLED_VALIDATION)
        raise GFaceError(f"--hparam-search: protocols {blind} hold out no labelled validation images, so no rule "
                         f"could choose among the draws; use protocols with model_selection: "
                         f"{LABELLED_VALIDATION} ({', '.join(families[:3]) or 'none registered'}"
                         f"{', ...' if len(families) > 3 else ''}; protocols/README.md, \"Fair comparison\")")
    if ablate:
        raise GFaceError("--hparam-search and --ablate go in separate sweeps: ablate the chosen configuration "
                         "with --set after the search")
    for method, values in overrides.items():
        drawn = sorted(set(values) & set(METHODS.get(method).search_space))
        if drawn:
            raise GFaceError(f"--set {method}.{drawn[0]}: --hparam-search draws {', '.join(drawn)} for {method}; "
                             f"drop the --set, or run without --hparam-search")


def ablation_terms(method: str) -> dict[str, str]:
    return METHODS.get(method).ablation_terms


def ablated_configs(method: str, params: dict) -> list[tuple[dict, str]]:
    """One ``(params with the term's weight at 0, term label)`` per term not already at 0 in ``params``."""
    return [({**params, weight: type(params[weight])(0)}, term)
            for term, weight in ablation_terms(method).items() if params[weight]]


def is_done(spec: RunSpec, runs_dir: Path) -> bool:
    """A ``done`` marker beside a readable record; a record cut short (a full disk, a copy interrupted) makes the
    run pending again, so the sweep runs it anew."""
    folder = spec.folder(runs_dir)
    if not (folder / "done").exists():
        return False
    try:
        return isinstance(json.loads((folder / "record.json").read_text()), dict)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def run_status(spec: RunSpec, runs_dir: Path) -> str:
    """"done", "stale" (pending, and a finished record of an older identity is there) or "pending"."""
    if is_done(spec, runs_dir):
        return "done"
    return "stale" if stale_runs(spec, runs_dir) else "pending"


def stale_runs(spec: RunSpec, runs_dir: Path) -> list[Path]:
    """Finished folders of the same configuration and seeds whose run id is no longer ``spec``'s: their data, split,
    weights, method code, scorer or protocol version changed since."""
    same = {"params": spec.params, "backbone": spec.backbone, "ablation": spec.ablation}
    stale = []
    for done in sorted(spec.folder(runs_dir).parent.glob(f"split{spec.split_seed}-rep{spec.repetition}-*/done")):
        if done.parent.name == spec.run_id:
            continue
        try:
            old = json.loads((done.parent / "spec.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # not ours to judge: the leaderboard names unreadable records
        if isinstance(old, dict) and all(old.get(key) == value for key, value in same.items()):
            stale.append(done.parent)
    return stale
